//! The test's side of the supervisor: an application that records what it is told and either
//! idles or floods the connection, and stops when the test raises a flag.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use anchormq::crypto::{Entropy, EntropyError};
use anchormq::mqtt::{Application, Control, Event, Message, QoS};

/// Always the same bytes: `0xff` makes every jittered wait its ceiling, so waits are exact.
pub struct Ceiling;

impl Entropy for Ceiling {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        dest.fill(0xff);
        Ok(())
    }
}

/// An event as the test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Connecting(u32),
    Connected,
    Failed(String),
    BackingOff(u32),
    Other(String),
}

/// What the application does while the supervisor waits on it.
pub enum Mode {
    /// Nothing to send.
    Idle,
    /// Queues another QoS 0 message of this payload on every call: writes until the broker's
    /// window closes.
    Flood(Vec<u8>),
}

pub struct Recorder {
    pub mode: Mode,
    pub events: Vec<Seen>,
    /// The test sets it; the next `wait` asks the supervisor to stop.
    pub stop: Rc<Cell<bool>>,
}

impl Recorder {
    pub fn new(mode: Mode) -> Self {
        Self { mode, events: Vec::new(), stop: Rc::new(Cell::new(false)) }
    }

    pub fn delays(&self) -> Vec<u32> {
        self.events
            .iter()
            .filter_map(|e| if let Seen::BackingOff(ms) = e { Some(*ms) } else { None })
            .collect()
    }

    pub fn failures(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| if let Seen::Failed(s) = e { Some(s.as_str()) } else { None })
            .collect()
    }
}

impl Application<io::Error> for Recorder {
    fn on_event(&mut self, event: Event<'_, io::Error>) {
        self.events.push(match event {
            Event::Connecting { attempt } => Seen::Connecting(attempt),
            Event::Connected { .. } => Seen::Connected,
            Event::Failed { error } => Seen::Failed(error.to_string()),
            Event::BackingOff { delay_ms } => Seen::BackingOff(delay_ms),
            other => Seen::Other(format!("{other:?}")),
        });
    }

    fn on_message(&mut self, _message: &Message<'_>, _control: &mut Control<'_, '_>) {}

    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        loop {
            if self.stop.get() {
                control.stop();
                return;
            }
            match &self.mode {
                Mode::Flood(payload) => {
                    // Yield once, as a real producer would, so the runtime's timers advance.
                    tokio::task::yield_now().await;
                    let _ = control.publish("flood", payload, QoS::AtMostOnce, false);
                    return;
                }
                Mode::Idle => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}
