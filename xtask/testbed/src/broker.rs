//! A Mosquitto broker with one loopback listener per test scenario.
//!
//! Mosquitto 2.0's `tls_version tlsv1.2` / `tlsv1.1` only set a *minimum*
//! version (a `tlsv1.2` listener still negotiates TLS 1.3), and OpenSSL's
//! maximum version can only be capped process-wide. So the broker is really
//! up to three `mosquitto` processes sharing one work directory:
//!
//! * `main` (`mosquitto.conf`, `mosquitto.log`): every listener but the two
//!   below; TLS listeners there use `tls_version tlsv1.3`.
//! * `tls12` (`mosquitto-tls12.conf`, `mosquitto-tls12.log`): [`Listener::Tls12`] and
//!   [`Listener::Tls12Cbc`],
//!   run with `OPENSSL_CONF` pinning TLS 1.2 as both minimum and maximum.
//! * `tls11` (`mosquitto-tls11.conf`, `mosquitto-tls11.log`): [`Listener::Tls11`],
//!   pinned to TLS 1.1 and OpenSSL security level 0 (OpenSSL 3 refuses
//!   TLS 1.1 at its default level).
//! * `auth` (`mosquitto-auth.conf`, `mosquitto-auth.log`): [`Listener::TlsAuth`],
//!   with `allow_anonymous false` and a password file holding one user
//!   ([`AUTH_USER`], [`AUTH_PASSWORD`]). Authentication settings are global
//!   in Mosquitto 2.0 unless `per_listener_settings true`, which would change
//!   every other listener's defaults; a process of its own keeps them as they are.
//!
//! [`Broker`] hides this: ports, logs, stop and restart cover all processes.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pki::{CertFiles, Pki};

/// How long [`Broker::start`] waits for every listener to accept TCP.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
const START_ATTEMPTS: usize = 3;
const LOG_TAIL_LINES: usize = 30;
/// Mosquitto prints this once all listeners are open.
const RUNNING_MARKER: &str = " running";

/// The one user [`Listener::TlsAuth`] accepts.
pub const AUTH_USER: &str = "device";
/// [`AUTH_USER`]'s password on [`Listener::TlsAuth`] (a throw-away test secret).
pub const AUTH_PASSWORD: &str = "anchormq-test-password";

/// The one PSK identity [`Listener::Psk`] knows.
pub const PSK_IDENTITY: &str = "anchormq-device";
/// [`PSK_IDENTITY`]'s key on [`Listener::Psk`] (a throw-away test secret, 32 bytes).
pub const PSK_KEY: [u8; 32] = *b"anchormq-test-psk-not-a-secret!!";

/// One listener of the test broker; each has its own port on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Listener {
    /// Plain MQTT, no TLS (sanity checks only).
    Plain,
    /// TLS 1.3 only, ECDSA chain (`server-chain.pem`).
    Tls13,
    /// TLS 1.3 only, RSA-2048 chain (`rsa-server-chain.pem`).
    Tls13Rsa,
    /// TLS 1.3 only, serving `direct-server-chain.pem`: an ECDSA leaf issued directly by the
    /// root, alone (no intermediate), so its Certificate message (about 525 bytes) fits one
    /// 1 024-byte record with room to spare.
    Tls13Direct,
    /// TLS 1.2 only, ECDSA chain.
    Tls12,
    /// TLS 1.1 only, ECDSA chain: every TLS 1.2/1.3 client is refused.
    Tls11,
    /// TLS 1.2 only, ECDSA chain, CBC suites only (`ECDHE-ECDSA-AES128-SHA`,
    /// `ECDHE-ECDSA-AES256-SHA`): a client that offers only AEAD suites is refused. In the
    /// `tls12` process.
    Tls12Cbc,
    /// TLS 1.3, ECDSA chain, client certificate required (signed by the
    /// test intermediate); the certificate's CN becomes the MQTT username.
    MutualTls,
    /// TLS 1.3 serving `expired-chain.pem`.
    Expired,
    /// TLS 1.3 serving `not-yet-valid-chain.pem`.
    NotYetValid,
    /// TLS 1.3 serving `wrong-host-chain.pem` (wrong.example, 10.9.8.7).
    WrongHost,
    /// TLS 1.3 serving `unknown-ca-chain.pem` (issued by `other-root`).
    UnknownCa,
    /// TLS 1.3 serving `no-server-auth-chain.pem` (EKU clientAuth only).
    NoServerAuth,
    /// TLS 1.3 serving `ca-as-leaf-chain.pem` (CA:TRUE leaf).
    CaAsLeaf,
    /// TLS 1.3, ECDSA chain, no anonymous clients: only [`AUTH_USER`] with
    /// [`AUTH_PASSWORD`] may connect.
    TlsAuth,
    /// TLS 1.3 with an external pre-shared key and no certificate: only [`PSK_IDENTITY`] with
    /// [`PSK_KEY`] completes a handshake (Mosquitto negotiates `psk_dhe_ke`).
    Psk,
}

impl Listener {
    /// Every listener, in a stable order.
    pub const ALL: [Listener; 16] = [
        Listener::Plain,
        Listener::Tls13,
        Listener::Tls13Rsa,
        Listener::Tls13Direct,
        Listener::Tls12,
        Listener::Tls11,
        Listener::Tls12Cbc,
        Listener::MutualTls,
        Listener::Expired,
        Listener::NotYetValid,
        Listener::WrongHost,
        Listener::UnknownCa,
        Listener::NoServerAuth,
        Listener::CaAsLeaf,
        Listener::TlsAuth,
        Listener::Psk,
    ];

    /// Short kebab-case name, e.g. `tls13-rsa`.
    pub fn name(self) -> &'static str {
        match self {
            Listener::Plain => "plain",
            Listener::Tls13 => "tls13",
            Listener::Tls13Rsa => "tls13-rsa",
            Listener::Tls13Direct => "tls13-direct",
            Listener::Tls12 => "tls12",
            Listener::Tls11 => "tls11",
            Listener::Tls12Cbc => "tls12-cbc",
            Listener::MutualTls => "mutual-tls",
            Listener::Expired => "expired",
            Listener::NotYetValid => "not-yet-valid",
            Listener::WrongHost => "wrong-host",
            Listener::UnknownCa => "unknown-ca",
            Listener::NoServerAuth => "no-server-auth",
            Listener::CaAsLeaf => "ca-as-leaf",
            Listener::TlsAuth => "tls-auth",
            Listener::Psk => "psk",
        }
    }

    /// Whether the listener speaks TLS.
    pub fn is_tls(self) -> bool {
        self != Listener::Plain
    }

    /// The certificate the listener serves, or `None` for [`Listener::Plain`].
    pub fn server_cert(self, pki: &Pki) -> Option<&CertFiles> {
        Some(match self {
            Listener::Plain | Listener::Psk => return None,
            Listener::Tls13
            | Listener::Tls12
            | Listener::Tls11
            | Listener::Tls12Cbc
            | Listener::MutualTls
            | Listener::TlsAuth => &pki.server,
            Listener::Tls13Rsa => &pki.rsa_server,
            Listener::Tls13Direct => &pki.direct_server,
            Listener::Expired => &pki.expired,
            Listener::NotYetValid => &pki.not_yet_valid,
            Listener::WrongHost => &pki.wrong_host,
            Listener::UnknownCa => &pki.unknown_ca,
            Listener::NoServerAuth => &pki.no_server_auth,
            Listener::CaAsLeaf => &pki.ca_as_leaf,
        })
    }

    fn process(self) -> Process {
        match self {
            Listener::Tls12 | Listener::Tls12Cbc => Process::Tls12,
            Listener::Tls11 => Process::Tls11,
            Listener::TlsAuth => Process::Auth,
            _ => Process::Main,
        }
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the broker could not be started (or restarted).
#[derive(Debug)]
pub enum BrokerError {
    /// No `mosquitto` executable on `PATH` or in the sbin directories.
    NotInstalled,
    Io {
        context: String,
        source: io::Error,
    },
    /// A `mosquitto` process exited during start-up.
    Exited {
        process: &'static str,
        status: String,
        log_tail: String,
    },
    /// Listeners did not accept TCP within [`START_TIMEOUT`].
    Timeout {
        process: &'static str,
        log_tail: String,
    },
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInstalled => f.write_str(
                "mosquitto is not installed: run `apt-get install -y mosquitto mosquitto-clients`",
            ),
            Self::Io { context, source } => write!(f, "{context}: {source}"),
            Self::Exited { process, status, log_tail } => write!(
                f,
                "mosquitto ({process}) exited during start-up ({status}); last log lines:\n{log_tail}"
            ),
            Self::Timeout { process, log_tail } => write!(
                f,
                "mosquitto ({process}) listeners not accepting TCP after {START_TIMEOUT:?}; \
                 last log lines:\n{log_tail}"
            ),
        }
    }
}

impl std::error::Error for BrokerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> BrokerError {
    let context = context.into();
    move |source| BrokerError::Io { context, source }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Process {
    Main,
    Tls12,
    Tls11,
    Auth,
}

impl Process {
    const ALL: [Process; 4] = [Process::Main, Process::Tls12, Process::Tls11, Process::Auth];

    fn label(self) -> &'static str {
        match self {
            Process::Main => "main",
            Process::Tls12 => "tls12",
            Process::Tls11 => "tls11",
            Process::Auth => "auth",
        }
    }

    /// File name stem in the work directory.
    fn stem(self) -> &'static str {
        match self {
            Process::Main => "mosquitto",
            Process::Tls12 => "mosquitto-tls12",
            Process::Tls11 => "mosquitto-tls11",
            Process::Auth => "mosquitto-auth",
        }
    }

    /// OpenSSL configuration capping the protocol version process-wide
    /// (`MinProtocol`/`MaxProtocol` in the `system_default` section apply to
    /// every `SSL_CTX` the process creates).
    fn openssl_conf(self) -> Option<&'static str> {
        match self {
            Process::Main | Process::Auth => None,
            Process::Tls12 => Some(concat!(
                "# Generated by anchormq-testbed: TLS 1.2 only.\n",
                "openssl_conf = anchormq_init\n",
                "[anchormq_init]\nssl_conf = anchormq_ssl\n",
                "[anchormq_ssl]\nsystem_default = anchormq_sysdef\n",
                "[anchormq_sysdef]\n",
                "MinProtocol = TLSv1.2\nMaxProtocol = TLSv1.2\n"
            )),
            Process::Tls11 => Some(concat!(
                "# Generated by anchormq-testbed: TLS 1.1 only, security level 0.\n",
                "openssl_conf = anchormq_init\n",
                "[anchormq_init]\nssl_conf = anchormq_ssl\n",
                "[anchormq_ssl]\nsystem_default = anchormq_sysdef\n",
                "[anchormq_sysdef]\n",
                "MinProtocol = TLSv1.1\nMaxProtocol = TLSv1.1\n",
                "CipherString = DEFAULT:@SECLEVEL=0\n"
            )),
        }
    }
}

#[derive(Debug)]
struct Instance {
    process: Process,
    conf: PathBuf,
    log: PathBuf,
    /// mosquitto's own stdout/stderr (messages printed before logging starts).
    output: PathBuf,
    openssl_conf: Option<PathBuf>,
    ports: Vec<u16>,
    child: Option<Child>,
}

/// A running test broker. Dropping it kills every `mosquitto` process.
#[derive(Debug)]
pub struct Broker {
    mosquitto: PathBuf,
    work_dir: PathBuf,
    ports: Vec<(Listener, u16)>,
    instances: Vec<Instance>,
}

impl Broker {
    /// Writes the configuration into `work_dir` (created if needed) and starts
    /// the broker with every [`Listener`] on a free 127.0.0.1 port, waiting
    /// until all of them accept TCP.
    pub fn start(pki: &Pki, work_dir: &Path) -> Result<Broker, BrokerError> {
        let mosquitto = find_mosquitto()?;
        fs::create_dir_all(work_dir).map_err(io_err(format!("creating {}", work_dir.display())))?;
        let work_dir =
            std::path::absolute(work_dir).map_err(io_err(format!("resolving {}", work_dir.display())))?;
        let mut attempt = 1;
        loop {
            let mut broker = Broker::configure(&mosquitto, pki, &work_dir)?;
            match broker.start_again() {
                Ok(()) => return Ok(broker),
                // Another process may have grabbed one of the ports between
                // choosing it and mosquitto binding it: retry with new ports.
                Err(e) if is_port_clash(&e) && attempt < START_ATTEMPTS => {
                    attempt = attempt.saturating_add(1);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn configure(mosquitto: &Path, pki: &Pki, work_dir: &Path) -> Result<Broker, BrokerError> {
        let ports = pick_ports(Listener::ALL.len())?;
        let ports: Vec<(Listener, u16)> = Listener::ALL.into_iter().zip(ports).collect();
        let mut instances = Vec::new();
        for process in Process::ALL {
            let stem = process.stem();
            let conf = work_dir.join(format!("{stem}.conf"));
            let log = work_dir.join(format!("{stem}.log"));
            let output = work_dir.join(format!("{stem}.out"));
            // A new broker starts with empty logs; restarts append to them.
            for stale in [&log, &output] {
                match fs::remove_file(stale) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        return Err(io_err(format!("removing {}", stale.display()))(e));
                    }
                    _ => {}
                }
            }
            let mine: Vec<(Listener, u16)> =
                ports.iter().copied().filter(|(l, _)| l.process() == process).collect();
            let passwords = match process {
                Process::Auth => {
                    let path = work_dir.join("passwords");
                    write_password_file(&path)?;
                    Some(path)
                }
                _ => None,
            };
            let text = config_text(pki, &log, &mine, passwords.as_deref())?;
            fs::write(&conf, text).map_err(io_err(format!("writing {}", conf.display())))?;
            let openssl_conf = match process.openssl_conf() {
                Some(text) => {
                    let path = work_dir.join(format!("openssl-{}.cnf", process.label()));
                    fs::write(&path, text).map_err(io_err(format!("writing {}", path.display())))?;
                    Some(path)
                }
                None => None,
            };
            instances.push(Instance {
                process,
                conf,
                log,
                output,
                openssl_conf,
                ports: mine.iter().map(|(_, p)| *p).collect(),
                child: None,
            });
        }
        Ok(Broker { mosquitto: mosquitto.to_path_buf(), work_dir: work_dir.to_path_buf(), ports, instances })
    }

    /// The port of `listener` on 127.0.0.1.
    pub fn port(&self, listener: Listener) -> u16 {
        self.ports.iter().find(|(l, _)| *l == listener).map(|(_, p)| *p).unwrap_or_default()
    }

    /// `127.0.0.1:<port>` of `listener`.
    pub fn addr(&self, listener: Listener) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port(listener)))
    }

    /// Every listener with its port, in [`Listener::ALL`] order.
    pub fn listeners(&self) -> &[(Listener, u16)] {
        &self.ports
    }

    /// The directory holding configuration and logs.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// The log file of the process serving `listener`.
    pub fn log_path(&self, listener: Listener) -> &Path {
        self.instance(listener.process()).map_or(&self.work_dir, |i| &i.log)
    }

    /// The mosquitto configuration file of the process serving `listener`.
    pub fn config_path(&self, listener: Listener) -> &Path {
        self.instance(listener.process()).map_or(&self.work_dir, |i| &i.conf)
    }

    fn instance(&self, process: Process) -> Option<&Instance> {
        self.instances.iter().find(|i| i.process == process)
    }

    /// The whole broker log so far: `mosquitto.log` followed by the logs of
    /// the TLS 1.2, TLS 1.1 and password-protected processes. Logs start empty at
    /// [`Broker::start`] and are appended to across [`Broker::restart`]s.
    pub fn log(&self) -> String {
        self.instances.iter().map(|i| read_lossy(&i.log)).collect()
    }

    /// The log of the process serving `listener` only.
    pub fn log_for(&self, listener: Listener) -> String {
        self.instance(listener.process()).map(|i| read_lossy(&i.log)).unwrap_or_default()
    }

    /// How many times `needle` occurs in [`Broker::log`].
    pub fn count_in_log(&self, needle: &str) -> usize {
        if needle.is_empty() {
            return 0;
        }
        self.log().matches(needle).count()
    }

    /// The process id of the mosquitto process serving `listener`, while it runs
    /// (for tests that pause it with `SIGSTOP`).
    pub fn pid(&self, listener: Listener) -> Option<u32> {
        self.instance(listener.process()).and_then(|i| i.child.as_ref()).map(Child::id)
    }

    /// Whether every mosquitto process is still running.
    pub fn is_running(&mut self) -> bool {
        self.instances.iter_mut().all(|i| match &mut i.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        })
    }

    /// Kills every mosquitto process (SIGKILL: connections drop without an
    /// MQTT goodbye) and waits for them to exit. Idempotent.
    pub fn stop(&mut self) -> Result<(), BrokerError> {
        let mut first_error = None;
        for instance in &mut self.instances {
            if let Some(mut child) = instance.child.take() {
                // kill() fails only if the process already exited; wait() reaps it either way.
                let _ = child.kill();
                if let Err(e) = child.wait() {
                    first_error.get_or_insert(io_err("waiting for mosquitto to exit")(e));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Starts every stopped mosquitto process again with the same ports and
    /// configuration, waiting until its listeners accept TCP.
    pub fn start_again(&mut self) -> Result<(), BrokerError> {
        let mosquitto = self.mosquitto.clone();
        for index in 0..self.instances.len() {
            let Some(instance) = self.instances.get_mut(index) else {
                continue;
            };
            let alive = match &mut instance.child {
                Some(child) => matches!(child.try_wait(), Ok(None)),
                None => false,
            };
            if alive {
                continue;
            }
            instance.child = None;
            if let Err(e) = instance.start(&mosquitto) {
                let _ = self.stop();
                return Err(e);
            }
        }
        Ok(())
    }

    /// [`Broker::stop`] then [`Broker::start_again`].
    pub fn restart(&mut self) -> Result<(), BrokerError> {
        self.stop()?;
        self.start_again()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl Instance {
    fn start(&mut self, mosquitto: &Path) -> Result<(), BrokerError> {
        let runs_before = read_lossy(&self.log).matches(RUNNING_MARKER).count();
        let output = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.output)
            .map_err(io_err(format!("opening {}", self.output.display())))?;
        let output_err = output.try_clone().map_err(io_err(format!("opening {}", self.output.display())))?;
        let mut command = Command::new(mosquitto);
        command.arg("-c").arg(&self.conf).stdin(Stdio::null()).stdout(output).stderr(output_err);
        if let Some(conf) = &self.openssl_conf {
            command.env("OPENSSL_CONF", conf);
        }
        let child = command.spawn().map_err(io_err(format!("starting {}", mosquitto.display())))?;
        let child = self.child.insert(child);

        let deadline = Instant::now().checked_add(START_TIMEOUT);
        loop {
            if let Some(status) = child.try_wait().map_err(io_err("polling mosquitto"))? {
                self.child = None;
                return Err(BrokerError::Exited {
                    process: self.process.label(),
                    status: status.to_string(),
                    log_tail: self.tail(),
                });
            }
            let started = read_lossy(&self.log).matches(RUNNING_MARKER).count() > runs_before;
            if started && all_listening(&self.ports) {
                return Ok(());
            }
            if deadline.is_none_or(|d| Instant::now() >= d) {
                return Err(BrokerError::Timeout { process: self.process.label(), log_tail: self.tail() });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn tail(&self) -> String {
        let mut text = read_lossy(&self.output);
        text.push_str(&read_lossy(&self.log));
        let lines: Vec<&str> = text.lines().collect();
        let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
        lines.get(skip..).unwrap_or_default().join("\n")
    }
}

fn find_mosquitto() -> Result<PathBuf, BrokerError> {
    if let Some(path) = std::env::var_os("ANCHORMQ_MOSQUITTO") {
        return Ok(PathBuf::from(path));
    }
    crate::find_program("mosquitto").ok_or(BrokerError::NotInstalled)
}

fn is_port_clash(e: &BrokerError) -> bool {
    match e {
        BrokerError::Exited { log_tail, .. } | BrokerError::Timeout { log_tail, .. } => {
            log_tail.contains("Address already in use")
        }
        _ => false,
    }
}

/// Asks the kernel for `n` distinct free ports (all bound at once, then
/// released).
fn pick_ports(n: usize) -> Result<Vec<u16>, BrokerError> {
    let sockets = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err("binding 127.0.0.1:0 to find a free port"))?;
    sockets
        .iter()
        .map(|s| s.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err("reading a bound port"))
}

/// The configuration of one mosquitto process. With `passwords`, anonymous
/// clients are refused and that password file decides who may connect.
fn config_text(
    pki: &Pki,
    log: &Path,
    listeners: &[(Listener, u16)],
    passwords: Option<&Path>,
) -> Result<String, BrokerError> {
    let abs = |path: &Path| -> Result<String, BrokerError> {
        std::path::absolute(path)
            .map(|p| p.display().to_string())
            .map_err(io_err(format!("resolving {}", path.display())))
    };
    let mut text = String::from(
        "# Generated by anchormq-testbed; rewritten on every start.\n\
         per_listener_settings false\n\
         persistence false\n\
         set_tcp_nodelay true\n\
         log_type all\n\
         log_timestamp true\n\
         log_timestamp_format %Y-%m-%dT%H:%M:%S\n",
    );
    text.push_str(&format!("log_dest file {}\n", log.display()));
    match passwords {
        Some(file) => text.push_str(&format!("allow_anonymous false\npassword_file {}\n", abs(file)?)),
        None => text.push_str("allow_anonymous true\n"),
    }
    if crate::is_root() {
        // Started as root, mosquitto switches to the `mosquitto` user by
        // default, which cannot read a private temp dir (nor write the log
        // there). Staying root is harmless for a throw-away loopback broker;
        // mosquitto only prints a warning. Not needed (and not written) when
        // running as an ordinary user: then it keeps that user's identity.
        text.push_str("user root\n");
    }
    for &(listener, port) in listeners {
        text.push_str(&format!("\n# {listener}\nlistener {port} 127.0.0.1\n"));
        if listener == Listener::Psk {
            // `psk_file` is a global setting; only listeners with a `psk_hint` use it.
            let file = log.with_file_name("psk.txt");
            let key: String = PSK_KEY.iter().map(|b| format!("{b:02x}")).collect();
            fs::write(&file, format!("{PSK_IDENTITY}:{key}\n"))
                .map_err(io_err(format!("writing {}", file.display())))?;
            text.push_str(&format!("psk_hint anchormq\npsk_file {}\ntls_version tlsv1.3\n", abs(&file)?));
            continue;
        }
        let Some(cert) = listener.server_cert(pki) else {
            continue;
        };
        text.push_str(&format!("certfile {}\nkeyfile {}\n", abs(&cert.chain)?, abs(&cert.key)?));
        match listener {
            Listener::Tls12 => text.push_str("tls_version tlsv1.2\n"),
            Listener::Tls12Cbc => {
                text.push_str("tls_version tlsv1.2\nciphers ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA\n")
            }
            // Security level 0 also on the listener: mosquitto sets its own
            // cipher list, which must not raise the level again.
            Listener::Tls11 => text.push_str("tls_version tlsv1.1\nciphers DEFAULT:@SECLEVEL=0\n"),
            _ => text.push_str("tls_version tlsv1.3\n"),
        }
        if listener == Listener::MutualTls {
            text.push_str(&format!(
                "cafile {}\nrequire_certificate true\nuse_identity_as_username true\n",
                abs(&pki.client_ca_bundle)?
            ));
        }
    }
    Ok(text)
}

/// Writes a Mosquitto password file holding [`AUTH_USER`] with [`AUTH_PASSWORD`]
/// (hashed by `mosquitto_passwd`, which ships with the broker).
fn write_password_file(path: &Path) -> Result<(), BrokerError> {
    let tool = crate::find_program("mosquitto_passwd").ok_or(BrokerError::NotInstalled)?;
    let output = Command::new(&tool)
        .arg("-c")
        .arg("-b")
        .arg(path)
        .args([AUTH_USER, AUTH_PASSWORD])
        .stdin(Stdio::null())
        .output()
        .map_err(io_err(format!("running {}", tool.display())))?;
    if output.status.success() {
        return Ok(());
    }
    Err(BrokerError::Io {
        context: format!("creating the password file {}", path.display()),
        source: io::Error::other(format!(
            "mosquitto_passwd failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    })
}

fn read_lossy(path: &Path) -> String {
    fs::read(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
}

/// Whether every port has a socket in LISTEN state. Reads `/proc/net/tcp`
/// rather than connecting, so the check leaves no "New connection" lines in
/// the broker log; falls back to connecting if `/proc` is unavailable.
fn all_listening(ports: &[u16]) -> bool {
    match listening_ports() {
        Some(listening) => ports.iter().all(|p| listening.contains(p)),
        None => ports.iter().all(|p| {
            TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::LOCALHOST, *p)),
                Duration::from_millis(200),
            )
            .is_ok()
        }),
    }
}

/// IPv4 ports in LISTEN state on 127.0.0.1 or 0.0.0.0.
pub(crate) fn listening_ports() -> Option<BTreeSet<u16>> {
    const LISTEN: &str = "0A";
    let table = fs::read_to_string("/proc/net/tcp").ok()?;
    let mut ports = BTreeSet::new();
    for line in table.lines().skip(1) {
        let mut fields = line.split_whitespace();
        let (Some(_slot), Some(local), Some(_remote), Some(state)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if state != LISTEN {
            continue;
        }
        let Some((ip, port)) = local.split_once(':') else {
            continue;
        };
        // The address is the in-memory (little-endian) u32, printed in hex.
        if ip != "0100007F" && ip != "00000000" {
            continue;
        }
        if let Ok(port) = u16::from_str_radix(port, 16) {
            ports.insert(port);
        }
    }
    Some(ports)
}
