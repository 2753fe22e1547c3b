//! The test's side of the supervisor: an [`Application`] driven through channels, and a
//! dialer that can be held shut.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use anchormq::Error;
use anchormq::mqtt::{Application, Control, Dial, Endpoint, Event, Message, QoS};
use anchormq_std::mqtt::{RustlsDialer, TlsTransport};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::timeout;

/// What the test asks the application to do.
pub enum Cmd {
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
    },
    /// Stop once every queued message was acknowledged.
    StopWhenDrained,
}

/// An event as the test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Connecting(u32),
    Connected { session_present: bool, tls_resumed: bool },
    Failed(String),
    BackingOff(u32),
    Other(String),
}

/// Takes commands from the test and reports events and messages back.
pub struct Channels {
    commands: UnboundedReceiver<Cmd>,
    draining: bool,
    events: UnboundedSender<Seen>,
    messages: UnboundedSender<(String, Vec<u8>, QoS)>,
}

/// The test's ends of the channels.
pub struct Remote {
    pub commands: UnboundedSender<Cmd>,
    pub events: UnboundedReceiver<Seen>,
    pub messages: UnboundedReceiver<(String, Vec<u8>, QoS)>,
}

pub fn channels() -> (Channels, Remote) {
    let (commands, commands_rx) = unbounded_channel();
    let (events_tx, events) = unbounded_channel();
    let (messages_tx, messages) = unbounded_channel();
    let app = Channels { commands: commands_rx, draining: false, events: events_tx, messages: messages_tx };
    (app, Remote { commands, events, messages })
}

impl Application<io::Error> for Channels {
    fn on_event(&mut self, event: Event<'_, io::Error>) {
        let seen = match event {
            Event::Connecting { attempt } => Seen::Connecting(attempt),
            Event::Connected { session_present, tls_resumed } => {
                Seen::Connected { session_present, tls_resumed }
            }
            Event::Failed { error } => Seen::Failed(error.to_string()),
            Event::BackingOff { delay_ms } => Seen::BackingOff(delay_ms),
            other => Seen::Other(format!("{other:?}")),
        };
        let _ = self.events.send(seen);
    }

    fn on_message(&mut self, message: &Message<'_>, _control: &mut Control<'_, '_>) {
        let _ = self.messages.send((message.topic().to_string(), message.payload().to_vec(), message.qos()));
    }

    async fn wait(&mut self, control: &mut Control<'_, '_>) {
        if self.draining {
            if control.outbox().is_empty() {
                control.stop();
            } else {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return;
        }
        match self.commands.recv().await {
            Some(Cmd::Publish { topic, payload, qos }) => {
                control.publish(&topic, &payload, qos, false).expect("outbox");
            }
            Some(Cmd::StopWhenDrained) | None => self.draining = true,
        }
    }
}

impl Remote {
    /// Waits (at most `secs`) for an event `wanted` accepts, returning it and every event seen
    /// on the way.
    pub async fn until(&mut self, secs: u64, wanted: impl Fn(&Seen) -> bool) -> Result<Vec<Seen>, String> {
        let mut seen = Vec::new();
        let found = timeout(Duration::from_secs(secs), async {
            while let Some(event) = self.events.recv().await {
                let done = wanted(&event);
                seen.push(event);
                if done {
                    return true;
                }
            }
            false
        })
        .await;
        match found {
            Ok(true) => Ok(seen),
            _ => Err(format!("the expected event did not come within {secs} s; seen: {seen:?}")),
        }
    }

    pub fn publish(&self, topic: String, payload: Vec<u8>, qos: QoS) {
        let _ = self.commands.send(Cmd::Publish { topic, payload, qos });
    }
}

/// A [`RustlsDialer`] that refuses like a stopped broker while `open` is false: holds the
/// supervisor back until the test's witness is listening again.
pub struct Gated {
    pub inner: RustlsDialer,
    pub open: Rc<Cell<bool>>,
}

impl Dial for Gated {
    type Error = io::Error;
    type Stream<'a> = TlsTransport<'a>;

    async fn dial(&mut self, broker: &Endpoint) -> Result<TlsTransport<'_>, Error<io::Error>> {
        if !self.open.get() {
            return Err(Error::Transport(io::ErrorKind::ConnectionRefused.into()));
        }
        self.inner.dial(broker).await
    }
}
