//! The supervisor: connect, serve, and reconnect by the [`Policy`], for as long as it allows.
//!
//! Owns: [`Supervisor`] (the loop from connecting through serving to backing off), the
//! [`Application`] hooks it reports to and takes work from, [`Control`] (what the application
//! may change: outbox, subscriptions, stop), [`Event`] and [`Stopped`].
//!
//! Never: reads a clock or sleeps except through [`Sleep`], draws randomness except from the
//! injected [`Entropy`], retries what the policy stops on, or drops an outbox message without
//! an [`Event`] saying so.

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::Poll;

use super::client::{Client, Connection, OpStatus, Recorded, Token, Watch};
use super::config::{Buffers, Config};
use super::outbox::{Admission, Outbox, OutboxError};
use super::policy::{Policy, Verdict};
use super::steady::steady;
use super::topic;
use super::transport::{Dial, Sleep, Transport};
use super::{Message, QoS};
use crate::Error;
use crate::crypto::Entropy;
use crate::error::{ConfigError, MqttError};

/// What the application is told. `E` is the port's error type.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a, E> {
    /// Attempt `attempt` (1 for the first after a healthy connection) is opening a connection.
    Connecting {
        /// Consecutive attempt number.
        attempt: u32,
    },
    /// The broker accepted the connection.
    Connected {
        /// The broker resumed the session (subscriptions and in-flight messages kept).
        session_present: bool,
        /// The TLS session was resumed.
        tls_resumed: bool,
    },
    /// An attempt or a live connection failed; the next event says what happens now.
    Failed {
        /// Why.
        error: &'a Error<E>,
    },
    /// Waiting this long before the next attempt.
    BackingOff {
        /// Milliseconds.
        delay_ms: u32,
    },
    /// The broker refused one publish or subscription (PUBACK, PUBREC or SUBACK reason
    /// code); the connection stays up and the message, acknowledged, left the outbox.
    Rejected {
        /// The reason code.
        reason_code: u8,
    },
    /// An outbox message or a subscription that can never be sent on this connection (too
    /// large for the transmit buffer or the broker, QoS above the broker's maximum) was dropped.
    Discarded {
        /// Its topic or topic filter.
        topic: &'a str,
        /// Why it cannot be sent.
        error: &'a Error<E>,
    },
    /// The application asked to stop: DISCONNECT was sent (if connected) and the stream closed.
    Disconnected,
    /// The supervisor stopped for good; [`Supervisor::run`] returns the same reason.
    GaveUp {
        /// Why.
        reason: &'a Stopped<E>,
    },
}

/// Why [`Supervisor::run`] returned.
#[derive(Debug)]
pub enum Stopped<E> {
    /// The application called [`Control::stop`].
    Requested,
    /// The broker refused the connection for a reason retrying cannot fix
    /// ([`super::RefusalPolicy::Stop`]): in its CONNACK, or at the TLS layer on
    /// [`Policy::tls_refusals_to_stop`] attempts in a row.
    Refused {
        /// The [`MqttError::Refused`] with its reason code, or the [`crate::TlsError`] that is a
        /// refusal ([`crate::TlsError::is_refusal`]); its `Display` names the cause and the fix.
        error: Error<E>,
    },
    /// The broker's certificate or the device's time was refused
    /// ([`Policy::retry_untrusted`] is off).
    Untrusted {
        /// The trust or time error.
        error: Error<E>,
    },
    /// Configuration or buffer sizes: nothing changes by waiting.
    Fatal {
        /// The configuration or resource error.
        error: Error<E>,
    },
    /// [`Policy::max_attempts`] consecutive attempts failed.
    Exhausted {
        /// How many.
        attempts: u32,
        /// The last failure.
        error: Error<E>,
    },
}

/// The application's side of the supervisor.
#[allow(async_fn_in_trait)] // Embedded executors are single-threaded; no `Send` bound wanted.
pub trait Application<E> {
    /// Every state change and every message or subscription dropped.
    fn on_event(&mut self, event: Event<'_, E>);

    /// A message arrived. `control` can queue replies or change subscriptions.
    fn on_message(&mut self, message: &Message<'_>, control: &mut Control<'_, '_>);

    /// Waits until the application has work for the supervisor: messages queued with
    /// [`Control::publish`], subscriptions changed, or [`Control::stop`]. It runs while the
    /// supervisor is connected and idle or backing off, and is called again after every
    /// wake-up. It must be cancel-safe: it is dropped when the network or the backoff
    /// finishes first. An application with nothing to send waits forever
    /// (`core::future::pending().await`).
    async fn wait(&mut self, control: &mut Control<'_, '_>);
}

/// What the application may change while the supervisor runs.
pub struct Control<'s, 'o> {
    outbox: &'s mut Outbox<'o>,
    subscriptions: &'s mut Subscriptions,
    stop: &'s mut bool,
}

impl fmt::Debug for Control<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("outbox", &self.outbox)
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

impl<'o> Control<'_, 'o> {
    /// Queues a message; it is published, in order, as soon as the broker is connected.
    ///
    /// # Errors
    /// As [`Outbox::push`]; the returned [`Admission`] says what was dropped to make room.
    pub fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<Admission, OutboxError> {
        self.outbox.push(topic, payload, qos, retain)
    }

    /// Adds (or changes the QoS of) a subscription, kept across reconnects: sent now if
    /// connected, and again whenever the broker lost the session.
    ///
    /// # Errors
    /// [`MqttError::InvalidRequest`] for a malformed topic filter.
    pub fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<(), MqttError> {
        topic::check_filter(filter).map_err(|reason| MqttError::InvalidRequest { reason })?;
        self.subscriptions.leaving.retain(|f| f != filter);
        match self.subscriptions.wanted.iter_mut().find(|w| w.filter == filter) {
            Some(w) => *w = Wanted { filter: w.filter.clone(), qos, sent: false },
            None => self.subscriptions.wanted.push(Wanted { filter: filter.to_string(), qos, sent: false }),
        }
        Ok(())
    }

    /// Removes a subscription (UNSUBSCRIBE is sent when connected). Returns whether it existed.
    pub fn unsubscribe(&mut self, filter: &str) -> bool {
        let before = self.subscriptions.wanted.len();
        self.subscriptions.wanted.retain(|w| w.filter != filter);
        let existed = self.subscriptions.wanted.len() != before;
        if existed {
            self.subscriptions.leaving.push(filter.to_string());
        }
        existed
    }

    /// Asks the supervisor to send DISCONNECT, close the stream and return
    /// [`Stopped::Requested`]. Unacknowledged messages stay in the outbox.
    pub fn stop(&mut self) {
        *self.stop = true;
    }

    /// The outbox, to look at.
    pub fn outbox(&self) -> &Outbox<'o> {
        self.outbox
    }
}

/// Keeps a [`Client`] connected through the port's [`Dial`], by the [`Policy`].
pub struct Supervisor<'buf, 'o, C, Z, R> {
    client: Client<'buf>,
    config: &'buf Config,
    work: Work<'o>,
    failures: u32,
    /// Attempts in a row that ended in a TLS refusal ([`Policy::tls_refusals_to_stop`]).
    tls_refusals: u32,
    dialer: C,
    sleeper: Z,
    entropy: R,
    policy: Policy,
}

impl<C, Z, R> fmt::Debug for Supervisor<'_, '_, C, Z, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("outbox", &self.work.outbox)
            .field("subscriptions", &self.work.subscriptions)
            .field("failures", &self.failures)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What the supervisor keeps across connections besides the session.
struct Work<'o> {
    outbox: Outbox<'o>,
    /// One entry per outbox message in flight, in order; `None` for QoS 0 (nothing to await).
    tokens: VecDeque<Option<Token>>,
    subscriptions: Subscriptions,
    stop: bool,
}

#[derive(Debug, Default)]
struct Subscriptions {
    wanted: Vec<Wanted>,
    leaving: Vec<String>,
}

#[derive(Debug)]
struct Wanted {
    filter: String,
    qos: QoS,
    sent: bool,
}

/// How serving one connection ended.
enum Served<E> {
    Stopped,
    /// `healthy`: the connection did useful work (an acknowledgement or a message) or stayed
    /// up for [`Policy::healthy_after_ms`] before the failure.
    Failed {
        error: Error<E>,
        healthy: bool,
    },
}

impl<'buf, 'o, C: Dial, Z: Sleep, R: Entropy> Supervisor<'buf, 'o, C, Z, R> {
    /// A supervisor for `config` over the caller's buffers and outbox, with the port's
    /// dialer, sleeper and entropy.
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn new(
        config: &'buf Config,
        buffers: Buffers<'buf>,
        outbox: Outbox<'o>,
        dialer: C,
        sleeper: Z,
        entropy: R,
        policy: Policy,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            client: Client::new(config, buffers)?,
            config,
            work: Work {
                outbox,
                tokens: VecDeque::new(),
                subscriptions: Subscriptions::default(),
                stop: false,
            },
            failures: 0,
            tls_refusals: 0,
            dialer,
            sleeper,
            entropy,
            policy,
        })
    }

    /// Queue messages and subscriptions before [`Supervisor::run`].
    pub fn control(&mut self) -> Control<'_, 'o> {
        self.work.control()
    }

    /// The outbox.
    pub fn outbox(&self) -> &Outbox<'o> {
        &self.work.outbox
    }

    /// Connects, serves, and reconnects until the application stops it or the policy gives up.
    /// Calling it again after it returned starts over (the stop request and the count of
    /// failed attempts are cleared; the session, the outbox and the subscriptions are kept).
    ///
    /// Every future inside is polled with one waker per task (`steady`), so each timer it sets
    /// is registered once per deadline whatever the executor's wakers do.
    pub async fn run<A: Application<C::Error>>(&mut self, app: &mut A) -> Stopped<C::Error> {
        // With a log feature, every event is logged on its way to the application.
        #[cfg(any(feature = "log", feature = "defmt"))]
        let app = &mut logged::Logged(app);
        steady(pin!(self.supervise(app))).await
    }

    async fn supervise<A: Application<C::Error>>(&mut self, app: &mut A) -> Stopped<C::Error> {
        self.work.stop = false;
        self.failures = 0;
        self.tls_refusals = 0;
        let mut delay = None;
        loop {
            if let Some(ms) = delay.take() {
                app.on_event(Event::BackingOff { delay_ms: ms });
                self.pause(app, ms).await;
            }
            if self.work.stop {
                app.on_event(Event::Disconnected);
                return Stopped::Requested;
            }
            app.on_event(Event::Connecting { attempt: self.failures.saturating_add(1) });
            let (error, healthy) = match self.connect_and_serve(app).await {
                Served::Stopped => {
                    app.on_event(Event::Disconnected);
                    return Stopped::Requested;
                }
                Served::Failed { error, healthy } => (error, healthy),
            };
            app.on_event(Event::Failed { error: &error });
            if self.work.stop {
                // Asked to stop while a write stalled or the connection failed: no backoff first.
                app.on_event(Event::Disconnected);
                return Stopped::Requested;
            }
            // A connection that worked for a while and then ended is not a failed attempt: the
            // count starts again, and the first retry is spread over the reconnect window.
            self.failures = if healthy { 0 } else { self.failures.saturating_add(1) };
            let backoff = self.policy.backoff;
            let verdict = self.policy.classify(&error);
            self.tls_refusals =
                if verdict == Verdict::TlsRefused { self.tls_refusals.saturating_add(1) } else { 0 };
            let stopped = match verdict {
                Verdict::StopRefused => Stopped::Refused { error },
                Verdict::TlsRefused if self.tls_refusals >= self.policy.tls_refusals_to_stop.max(1) => {
                    Stopped::Refused { error }
                }
                Verdict::StopUntrusted => Stopped::Untrusted { error },
                Verdict::StopFatal => Stopped::Fatal { error },
                _ if !healthy && self.policy.max_attempts.is_some_and(|max| self.failures >= max) => {
                    Stopped::Exhausted { attempts: self.failures, error }
                }
                Verdict::RetryAtCap => {
                    delay = Some(backoff.at_cap_ms(&self.entropy));
                    continue;
                }
                Verdict::Retry if healthy => {
                    delay = Some(backoff.spread_ms(self.policy.reconnect_window_ms, &self.entropy));
                    continue;
                }
                Verdict::Retry | Verdict::TlsRefused => {
                    delay = Some(backoff.delay_ms(self.failures.saturating_sub(1), &self.entropy));
                    continue;
                }
            };
            app.on_event(Event::GaveUp { reason: &stopped });
            return stopped;
        }
    }

    /// Sleeps `ms` while letting the application queue work; returns early on a stop request.
    async fn pause<A: Application<C::Error>>(&mut self, app: &mut A, ms: u32) {
        let Self { sleeper, work, .. } = self;
        let mut sleep = pin!(sleeper.sleep_ms(ms));
        while !work.stop {
            let mut control = work.control();
            let woke = select(sleep.as_mut(), pin!(app.wait(&mut control))).await;
            if let Either::Left(()) = woke {
                return;
            }
        }
    }

    /// One attempt: open the stream, CONNECT, then serve until failure or stop.
    async fn connect_and_serve<A: Application<C::Error>>(&mut self, app: &mut A) -> Served<C::Error> {
        let Policy { connect_timeout_ms, write_timeout_ms: ms, healthy_after_ms, .. } = self.policy;
        let Self { client, config, dialer, sleeper, work, .. } = self;
        let attempt = async {
            let stream = dialer.dial(&config.broker).await?;
            client.connect(stream).await
        };
        let conn = match select(pin!(attempt), pin!(sleeper.sleep_ms(connect_timeout_ms))).await {
            Either::Left(Ok(conn)) => conn,
            Either::Left(Err(error)) => return Served::Failed { error, healthy: false },
            Either::Right(()) => {
                let error = MqttError::ConnectTimeout { ms: connect_timeout_ms }.into();
                return Served::Failed { error, healthy: false };
            }
        };
        // The connection moves into the serving future without being borrowed here (a borrowed
        // local keeps its space in this future for good): the attempt's state and the
        // session's then share one space.
        let (watch, stream) = match serve(conn, work, sleeper, app, healthy_after_ms, ms).await {
            Ok(stopped) => stopped,
            Err(failed) => return failed,
        };
        // Closed here, once the session's future is gone (and its result with the statement
        // above): the stream and its close_notify never sit beside the connection they came from.
        close(stream, watch, sleeper, ms).await
    }
}

/// Sends close_notify and closes the stream, within the write bound: the end of a stop. Takes
/// the stream by value, so this future holds its only copy (an `async` block over the
/// argument, not an `async fn`, which would keep the argument twice: rust-lang/rust#62958).
#[allow(clippy::manual_async_fn)]
fn close<'f, S: Transport + 'f, Z: Sleep>(
    mut stream: Recorded<'f, S>,
    watch: &'f Watch,
    sleeper: &'f Z,
    ms: u32,
) -> impl Future<Output = Served<S::PortError>> + 'f {
    async move {
        // A failed goodbye changes nothing: the application asked to stop either way.
        let _ = bounded(pin!(stream.close()), watch, sleeper, ms).await;
        Served::Stopped
    }
}

/// Serves a connection the broker accepted until it fails (`Err`) or the application stops
/// (`Ok`: DISCONNECT was sent, and the stream is left to close, with what bounds its writes).
async fn serve<'c, S: Transport, Z: Sleep, A: Application<S::PortError>>(
    mut conn: Connection<'c, '_, S>,
    work: &mut Work<'_>,
    sleeper: &Z,
    app: &mut A,
    healthy_after_ms: u32,
    ms: u32,
) -> Result<(&'c Watch, Recorded<'c, S>), Served<S::PortError>> {
    let session_present = conn.session_present();
    app.on_event(Event::Connected { session_present, tls_resumed: conn.tls_resumed() });
    if !session_present {
        // The broker forgot everything: subscribe again and resend what was not acknowledged.
        work.outbox.resend_all();
        work.tokens.clear();
        work.subscriptions.leaving.clear();
        work.subscriptions.wanted.iter_mut().for_each(|w| w.sent = false);
    }
    // Healthy once the connection did useful work (an acknowledgement, a message) or stayed
    // up for `healthy_after_ms`: a CONNACK and a PINGRESP prove nothing. The timer lives
    // across passes, so it is registered once per connection.
    let mut proving = pin!(Some(sleeper.sleep_ms(healthy_after_ms)));
    let mut healthy = false;
    let watch = conn.watch();
    loop {
        match bounded(pin!(work.send_pending(&mut conn, app)), watch, sleeper, ms).await {
            Ok(Ok(acknowledged)) => healthy |= acknowledged,
            Ok(Err(error)) => return Err(Served::Failed { error, healthy }),
            Err(stalled) => return Err(Served::Failed { error: stalled.into(), healthy }),
        }
        if work.stop {
            // A failed goodbye changes nothing: the application asked to stop either way.
            let _ = bounded(pin!(conn.send_disconnect()), watch, sleeper, ms).await;
            return Ok((watch, conn.into_stream()));
        }
        let mut control = work.control();
        let proven = poll_fn(|cx| match proving.as_mut().as_pin_mut().map(|timer| timer.poll(cx)) {
            Some(Poll::Ready(())) => {
                proving.set(None);
                Poll::Ready(())
            }
            _ => Poll::Pending,
        });
        let woke = {
            // Pinned here and passed by reference, so no future is stored twice.
            let (poll, wait, proven) = (pin!(conn.poll()), pin!(app.wait(&mut control)), pin!(proven));
            let idle = pin!(select(wait, proven));
            let serve = pin!(select(poll, idle));
            bounded(serve, watch, sleeper, ms).await
        };
        let outcome = match woke {
            Err(stalled) => Err(stalled.into()),
            Ok(Either::Left(Ok(Some(message)))) => {
                healthy = true;
                app.on_message(&message, &mut control);
                Ok(())
            }
            Ok(Either::Left(Ok(None)) | Either::Right(Either::Left(()))) => Ok(()),
            Ok(Either::Right(Either::Right(()))) => {
                healthy = true;
                Ok(())
            }
            Ok(Either::Left(Err(Error::Mqtt(MqttError::Rejected { reason_code })))) => {
                // An answer, if a refusal: the broker is serving this connection.
                healthy = true;
                app.on_event(Event::Rejected { reason_code });
                Ok(())
            }
            Ok(Either::Left(Err(error))) => Err(error),
        };
        if let Err(error) = outcome {
            return Err(Served::Failed { error, healthy });
        }
        healthy |= work.settle(&conn);
    }
}

impl<'o> Work<'o> {
    fn control(&mut self) -> Control<'_, 'o> {
        Control { outbox: &mut self.outbox, subscriptions: &mut self.subscriptions, stop: &mut self.stop }
    }

    /// Sends what is waiting: subscription changes, then outbox messages in order, as far as
    /// the in-flight window and the transmit buffer allow. Returns whether an outbox message
    /// was acknowledged on the way.
    async fn send_pending<S: Transport, A: Application<S::PortError>>(
        &mut self,
        conn: &mut Connection<'_, '_, S>,
        app: &mut A,
    ) -> Result<bool, Error<S::PortError>> {
        let mut acknowledged = self.settle(conn);
        let subs = &mut self.subscriptions;
        while let Some(filter) = subs.leaving.last() {
            match conn.unsubscribe(filter).await {
                Ok(_) => {}
                Err(Error::Mqtt(MqttError::Busy)) => return Ok(acknowledged),
                Err(e) if is_connection_failure(&e) => return Err(e),
                Err(e) => app.on_event(Event::Discarded { topic: filter, error: &e }),
            }
            subs.leaving.pop();
        }
        let mut index = 0;
        while let Some(w) = subs.wanted.get_mut(index) {
            index = index.saturating_add(1);
            if w.sent {
                continue;
            }
            match conn.subscribe(&w.filter, w.qos).await {
                Ok(_) => w.sent = true,
                Err(Error::Mqtt(MqttError::Busy)) => return Ok(acknowledged),
                Err(e) if is_connection_failure(&e) => return Err(e),
                Err(e) => {
                    app.on_event(Event::Discarded { topic: &w.filter, error: &e });
                    index = index.saturating_sub(1);
                    subs.wanted.remove(index);
                }
            }
        }
        while let Some(record) = self.outbox.next_unsent() {
            if !conn.can_publish(record.topic, record.payload.len(), record.qos) {
                return Ok(acknowledged);
            }
            match conn.publish(record.topic, record.payload, record.qos, record.retain).await {
                Ok(token) => {
                    self.tokens.push_back(token);
                    self.outbox.mark_sent();
                }
                Err(Error::Mqtt(MqttError::Busy)) => return Ok(acknowledged),
                Err(e) if is_connection_failure(&e) => return Err(e),
                Err(e) => {
                    app.on_event(Event::Discarded { topic: record.topic, error: &e });
                    self.outbox.remove_unsent();
                }
            }
            acknowledged |= self.settle(conn);
        }
        Ok(acknowledged)
    }

    /// Removes acknowledged messages (and written QoS 0 ones) from the front of the outbox.
    /// Returns whether one of them was acknowledged by the broker.
    fn settle<S: Transport>(&mut self, conn: &Connection<'_, '_, S>) -> bool {
        let mut acknowledged = false;
        while let Some(front) = self.tokens.front() {
            match front {
                Some(t) if conn.status(t) != OpStatus::Complete => break,
                Some(_) => acknowledged = true,
                None => {}
            }
            self.tokens.pop_front();
            self.outbox.pop_front();
        }
        acknowledged
    }
}

/// Whether an operation's error means the connection is gone (rather than this one request
/// being unsendable).
fn is_connection_failure<E>(error: &Error<E>) -> bool {
    !matches!(error, Error::Resource(_) | Error::Mqtt(MqttError::InvalidRequest { .. }))
}

/// Runs `work`; fails with [`MqttError::WriteTimeout`] when a write inside it waits `ms` with
/// no progress. The timer runs only while a write is waiting, and starts again whenever one
/// finishes, so an idle connection sets none and a slow one that keeps moving is never cut.
async fn bounded<F: Future, Z: Sleep>(
    mut work: Pin<&mut F>,
    watch: &Watch,
    sleeper: &Z,
    ms: u32,
) -> Result<F::Output, MqttError> {
    let mut timer = pin!(None);
    let mut armed_at = 0u32;
    poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        if !watch.writing() {
            timer.set(None);
            return Poll::Pending;
        }
        let progress = watch.progress();
        if timer.is_none() || armed_at != progress {
            timer.set(Some(sleeper.sleep_ms(ms)));
            armed_at = progress;
        }
        match timer.as_mut().as_pin_mut().map(|t| t.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(MqttError::WriteTimeout { ms })),
            _ => Poll::Pending,
        }
    })
    .await
}

enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Runs both futures until one finishes; the other is dropped. `a` is polled first. The
/// caller pins them: a future moved into an async fn would be stored in its state twice.
async fn select<A: Future, B: Future>(
    mut a: Pin<&mut A>,
    mut b: Pin<&mut B>,
) -> Either<A::Output, B::Output> {
    poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(out));
        }
        Poll::Pending
    })
    .await
}

mod display;
#[cfg(any(feature = "log", feature = "defmt"))]
mod logged;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests;
