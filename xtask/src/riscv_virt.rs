//! `cargo xtask riscv-virt`: the device path end to end on an emulated RV32IMC core without
//! atomics (the ESP32-C3's ISA): QEMU's RISC-V `virt` board runs `examples/riscv-virt-telemetry`
//! (virtio-net under the smoltcp port, the embedded-tls engine, the supervisor and outbox),
//! which publishes QoS 1 readings to the testbed's Mosquitto over a TAP link.
//!
//! Outside the network namespace it generates the test PKI and a trust bundle of each of its two
//! roots, ECDSA and RSA (`target/riscv-virt/`), and builds one image per TLS profile (PSK,
//! certificates verified with ECDSA P-256, certificates with RSA too, and the rustls experiment
//! for riscv32imac, run with and without the A extension) with the broker, the PSK and
//! the bundle given at build time; then it runs itself again under `unshare --net`, as
//! `cargo xtask riscv-virt` whatever command started it ([`netns::rerun_in_namespace_with`]).
//! There the cases run: the TAP device (host side 192.168.69.100, the guest 192.168.69.1), the
//! broker on the namespace's loopback, a forwarder from the TAP address's port 8883 to the
//! listener a case chooses, a `mosquitto_sub` witness, and QEMU ([`anchormq_testbed::qemu`]) with a bounded run time. The firmware ends the run
//! itself (QEMU's test finisher) once the broker acknowledged every reading, or when it stops.
//!
//! Two cases set the clock: with chronyd serving the host's clock on the link
//! ([`anchormq_testbed::ntp::Chrony`], never touching the machine's clock), the firmware's first
//! SNTP answer (`figure sntp_unix_secs`) must be the host's time during the run, within a few
//! seconds; without it, the clock is never set, that check refuses the run, and the readings
//! still arrive on the RTC's time. A third starts the RTC 60 days ahead (`-rtc base=`), past the
//! test leaf's validity: refused as expired without an NTP server, accepted once chronyd answers,
//! so the certificate check's time is SNTP's.
//!
//! Two cases disturb a run once the third reading arrived: the TAP link goes down for 3 s (the
//! connection survives it), and the broker is killed and started again (the supervisor
//! reconnects through the forwarder, which refuses it until the witness has subscribed again).
//!
//! The figures the firmware prints (`figure <name> <value>`: instructions of each dial and
//! publish round trip, heap peaks, the stack's high-water mark) are printed as a table.
//! Needs root, `qemu-system-riscv32` (qemu-system-misc), Mosquitto, chrony and the riscv32imc target;
//! without any of them it fails and says why.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anchormq::UnixTime;
use anchormq::trust::{BundleBuilder, OwnedAnchor};
use anchormq_testbed::broker::{Broker, Listener, PSK_IDENTITY, PSK_KEY};
use anchormq_testbed::harness::{CaseResult, Suite};
use anchormq_testbed::netns::{self, Tap};
use anchormq_testbed::ntp;
use anchormq_testbed::pki::{self, Pki};
use anchormq_testbed::proxy::Forwarder;
use anchormq_testbed::qemu::{self, Machine, Run};

use crate::Result;

/// The firmware, relative to the workspace root (its own workspace).
pub const FIRMWARE_DIR: &str = "examples/riscv-virt-telemetry";
const TARGET: &str = "riscv32imc-unknown-none-elf";
const SUITE: &str = "riscv-virt";
/// The host side of the TAP link, where the forwarder listens.
const HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 69, 100);
const BROKER_PORT: u16 = 8883;
const CLIENT_ID: &str = "riscv-virt";
const TOPIC: &str = "devices/riscv-virt/telemetry";
/// Readings each publishing case waits for (the firmware ends the run after them).
const READINGS: u32 = 10;
/// The reading after which a disturbing case takes the link down or restarts the broker.
const DISTURB_AFTER: u32 = 3;
/// The bound of one QEMU run.
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// The images, by TLS profile.
#[derive(Debug, Clone, Copy)]
enum Profile {
    Psk,
    /// ECDSA P-256 only: the test PKI's ECDSA root embedded.
    Certificates,
    /// The certificate profile with RSA signatures: the test PKI's RSA root embedded.
    Rsa,
    /// The experiment: the certificate profile on the rustls engine, for riscv32imac (rustls
    /// needs compare-and-swap), the ECDSA root embedded.
    Rustls,
    /// The rustls image run on the core without atomics: every atomic instruction traps and is
    /// emulated by the firmware's trap handler (feature `atomic-emulation`).
    RustlsEmulated,
}

impl Profile {
    const ALL: [Profile; 5] =
        [Profile::Psk, Profile::Certificates, Profile::Rsa, Profile::Rustls, Profile::RustlsEmulated];

    fn name(self) -> &'static str {
        match self {
            Profile::Psk => "psk",
            Profile::Certificates => "certificates",
            Profile::Rsa => "rsa",
            Profile::Rustls => "rustls",
            Profile::RustlsEmulated => "rustls-emulated-atomics",
        }
    }

    /// The target it is built for.
    fn target(self) -> &'static str {
        match self {
            Profile::Rustls | Profile::RustlsEmulated => "riscv32imac-unknown-none-elf",
            _ => TARGET,
        }
    }

    /// The profile whose trust bundle it embeds (by the root's key type).
    fn root(self) -> Profile {
        match self {
            Profile::Rustls | Profile::RustlsEmulated => Profile::Certificates,
            other => other,
        }
    }
}

/// `cargo xtask riscv-virt [FILTER]...`: every case, or those whose names contain a filter.
pub fn run(root: &Path, filters: &[String]) -> Result {
    let work = root.join("target/riscv-virt");
    if netns::in_namespace() {
        return verdict(run_cases(&work, filters));
    }
    qemu::program()?;
    let _ = std::fs::remove_dir_all(&work);
    let pki = pki::generate(&work.join("pki")).map_err(|e| format!("the test PKI: {e}"))?;
    write_bundle(&pki.root.cert_der, &bundle(&work, Profile::Certificates))?;
    write_bundle(&pki.rsa_root.cert_der, &bundle(&work, Profile::Rsa))?;
    for profile in Profile::ALL {
        build(root, profile, &work)?;
    }
    let mut args = vec![SUITE.to_string()];
    args.extend(filters.iter().cloned());
    verdict(netns::rerun_in_namespace_with(SUITE, &args))
}

fn verdict(code: ExitCode) -> Result {
    if code == ExitCode::SUCCESS { Ok(()) } else { Err(format!("the {SUITE} suite failed")) }
}

/// The trust bundle a certificate profile embeds.
fn bundle(work: &Path, profile: Profile) -> PathBuf {
    work.join(format!("testbed-{}.amqb", profile.name()))
}

/// A trust bundle holding one root of the test PKI.
fn write_bundle(root_der: &Path, path: &Path) -> Result {
    let der = std::fs::read(root_der).map_err(|e| format!("reading {}: {e}", root_der.display()))?;
    let anchor =
        OwnedAnchor::from_certificate(&der).map_err(|e| format!("the test root as an anchor: {e}"))?;
    let now = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(pki::unix_now()).unwrap_or(0)));
    let bytes = BundleBuilder::new("anchormq testbed", now)
        .anchor(anchor)
        .encode()
        .map_err(|e| format!("encoding the test bundle: {e}"))?;
    std::fs::write(path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Where the image of `profile` is kept.
fn image(work: &Path, profile: Profile) -> PathBuf {
    work.join(format!("riscv-virt-telemetry-{}.elf", profile.name()))
}

/// Builds the firmware for `profile` with the test link's configuration and keeps its ELF.
fn build(root: &Path, profile: Profile, work: &Path) -> Result {
    let firmware = root.join(FIRMWARE_DIR);
    let target_dir = firmware.join("target");
    let mut args = vec!["build", "--release", "--target", profile.target()];
    let psk_key = hex::encode(PSK_KEY);
    let readings = READINGS.to_string();
    let port = BROKER_PORT.to_string();
    let host = HOST.to_string();
    let mut env: Vec<(&str, &str)> = vec![
        ("ANCHORMQ_BROKER_HOST", host.as_str()),
        ("ANCHORMQ_BROKER_PORT", port.as_str()),
        ("ANCHORMQ_SERVER_NAME", "localhost"),
        ("ANCHORMQ_CLIENT_ID", CLIENT_ID),
        ("ANCHORMQ_READINGS", readings.as_str()),
        ("ANCHORMQ_PUBLISH_MS", "200"),
        // chronyd on the host side of the link, in the cases that start it (ntp::Chrony).
        ("ANCHORMQ_NTP_SERVER", host.as_str()),
    ];
    let bundle = bundle(work, profile.root()).display().to_string();
    match profile {
        Profile::Psk => {
            args.extend(["--no-default-features", "--features", "psk"]);
            env.extend([("ANCHORMQ_PSK_IDENTITY", PSK_IDENTITY), ("ANCHORMQ_PSK_KEY", psk_key.as_str())]);
        }
        Profile::Certificates => env.push(("ANCHORMQ_TRUST_BUNDLE", bundle.as_str())),
        Profile::Rsa => {
            args.extend(["--features", "rsa"]);
            env.push(("ANCHORMQ_TRUST_BUNDLE", bundle.as_str()));
        }
        Profile::Rustls => {
            args.extend(["--no-default-features", "--features", "rustls"]);
            env.push(("ANCHORMQ_TRUST_BUNDLE", bundle.as_str()));
        }
        Profile::RustlsEmulated => {
            args.extend(["--no-default-features", "--features", "atomic-emulation"]);
            env.push(("ANCHORMQ_TRUST_BUNDLE", bundle.as_str()));
        }
    }
    println!("$ (cd {FIRMWARE_DIR} && cargo {})  # {} profile", args.join(" "), profile.name());
    let status = Command::new(crate::cmd::cargo())
        .args(&args)
        .envs(env)
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(&firmware)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the {} image failed ({status})", profile.name()));
    }
    let built = qemu::image_path(&target_dir, profile.target(), "riscv-virt-telemetry");
    let kept = image(work, profile);
    std::fs::copy(&built, &kept).map_err(|e| format!("copying {}: {e}", built.display()))?;
    println!("    {} image: {}", profile.name(), sections(&kept)?);
    Ok(())
}

/// The loaded sections' sizes of an image, as a sentence.
fn sections(elf: &Path) -> Result<String> {
    use object::{Object, ObjectSection};
    let data = std::fs::read(elf).map_err(|e| format!("reading {}: {e}", elf.display()))?;
    let file = object::File::parse(&*data).map_err(|e| format!("parsing {}: {e}", elf.display()))?;
    let size = |name: &str| file.section_by_name(name).map_or(0, |s| s.size());
    Ok(format!(
        ".text {} + .rodata {} bytes (code and constants), .data {} + .bss {} bytes",
        size(".text"),
        size(".rodata"),
        size(".data"),
        size(".bss")
    ))
}

/// What every case gets: the board's surroundings and the broker, apart, so a case can restart
/// the broker while QEMU runs.
struct Env {
    board: Board,
    broker: Broker,
}

/// What a QEMU run needs besides the broker.
struct Board {
    work: PathBuf,
    forwarder: Forwarder,
    tap: Tap,
}

fn run_cases(work: &Path, filters: &[String]) -> ExitCode {
    let tmp = work.join("runs").display().to_string();
    let setup = |run_dir: &Path| -> Result<Env> {
        for program in ["mosquitto", "mosquitto_sub"] {
            if anchormq_testbed::find_program(program).is_none() {
                return Err(format!(
                    "{program} is not installed (apt-get install -y mosquitto mosquitto-clients)"
                ));
            }
        }
        let tap = netns::link("amqrv", HOST)?;
        let pki = Pki::load(&work.join("pki")).map_err(|e| format!("the test PKI: {e}"))?;
        let broker = Broker::start(&pki, &run_dir.join("broker")).map_err(|e| e.to_string())?;
        let forwarder = Forwarder::start(SocketAddr::from((HOST, BROKER_PORT)), broker.addr(Listener::Psk))
            .map_err(|e| format!("binding {HOST}:{BROKER_PORT}: {e}"))?;
        Ok(Env { board: Board { work: work.to_path_buf(), forwarder, tap }, broker })
    };
    let suite = Suite::with_filters(SUITE, filters.to_vec());
    // The broker is dropped before the board (the TAP device goes last).
    Suite::run_filtered(suite, &tmp, setup, |suite, mut env| {
        suite.case("psk_readings_arrive_over_virtio_net", || {
            publishes(&env, Profile::Psk, Listener::Psk).map(drop)
        });
        suite.case("certificate_readings_arrive_from_a_verified_broker", || {
            publishes(&env, Profile::Certificates, Listener::Tls13).map(drop)
        });
        suite.case("rsa_2048_chain_readings_arrive_from_a_verified_broker", || {
            publishes(&env, Profile::Rsa, Listener::Tls13Rsa).map(drop)
        });
        suite.case("rustls_on_riscv32imac_readings_arrive_from_a_verified_broker", || {
            publishes(&env, Profile::Rustls, Listener::Tls13).map(drop)
        });
        suite.case("rustls_with_emulated_atomics_on_a_core_without_them", || {
            let run = publishes(&env, Profile::RustlsEmulated, Listener::Tls13)?;
            // The core lacked the A extension, so the atomics rustls uses went through the trap.
            let emulated = run.figure("atomics_emulated").unwrap_or(0);
            anchormq_testbed::check!(emulated > 0, "no atomic instruction was emulated; {}", run.describe());
            Ok(())
        });
        suite.case("sntp_sets_the_clock_from_chrony_on_the_link", || sntp_from_chrony(&env));
        suite.case("an_rtc_past_the_leafs_expiry_is_corrected_by_sntp_before_the_check", || {
            sntp_corrects_the_rtc(&env)
        });
        suite.case("without_an_ntp_server_the_sntp_check_refuses_the_run", || no_ntp_server(&env));
        suite.case("wrong_host_broker_is_refused_with_the_verifiers_sentence", || wrong_host(&env));
        suite.case("link_down_and_up_mid_stream_loses_no_reading", || link_down_and_up(&env));
        suite.case("broker_restart_mid_stream_loses_no_reading", || broker_restart(&mut env));
        // A case that failed half-way may have left the link down.
        let _ = env.board.tap.set_link(true);
    })
}

impl Board {
    /// Runs the image of `profile` with the forwarder pointing at `broker`, until it ends the run.
    fn boot(&self, profile: Profile, broker: SocketAddr) -> Result<Run> {
        self.boot_with_rtc(profile, broker, None)
    }

    /// [`Board::boot`] with the goldfish RTC started at `rtc_base` (`-rtc base=...`) instead of
    /// the host's time.
    fn boot_with_rtc(&self, profile: Profile, broker: SocketAddr, rtc_base: Option<String>) -> Result<Run> {
        self.forwarder.point_at(broker);
        let machine = Machine {
            image: image(&self.work, profile),
            tap: Some(self.tap.name.clone()),
            echo: "    guest: ",
            atomics: matches!(profile, Profile::Rustls),
            rtc_base,
        };
        machine.run(RUN_LIMIT, || {
            // The host side carries frames only once the kernel saw QEMU attach (netns::Tap).
            let _ = self.tap.wait_carrier();
        })
    }
}

/// Runs `profile` against `listener`: every reading arrives on one connection, and the figures
/// are there. Returns the run for more checks.
fn publishes(env: &Env, profile: Profile, listener: Listener) -> Result<Run> {
    let witness = Witness::start(&env.broker, &format!("witness-{}", profile.name()))?;
    let accepted = env.board.forwarder.accepted();
    let run = env.board.boot(profile, env.broker.addr(listener))?;
    all_readings_arrived(&run, &witness)?;
    let connections = env.board.forwarder.accepted() - accepted;
    anchormq_testbed::check!(connections == 1, "the guest opened {connections} connections, expected 1");
    print_figures(profile.name(), &run);
    record_figures(&env.board.work, profile.name(), &run)?;
    for figure in ["dial_1_instructions", "publish_roundtrip_1_instructions", "stack_high_water_bytes"] {
        anchormq_testbed::check!(run.figure(figure).is_some(), "the firmware printed no {figure}");
    }
    // The timer wait at boot slept: the instructions executed over 100 ms are the wait's own,
    // not 100 M (what instret advances by under -icount; see ports/riscv-virt/src/cpu.rs).
    let slept = run.figure("timer_100ms_instructions").unwrap_or(u64::MAX);
    anchormq_testbed::check!(slept < 100_000, "a 100 ms timer wait executed {slept} instructions");
    Ok(run)
}

/// The firmware ended the run itself after every reading was acknowledged, and the witness
/// received each of them (duplicates allowed: QoS 1 is at least once).
fn all_readings_arrived(run: &Run, witness: &Witness) -> CaseResult {
    let done = format!("done: {READINGS} readings acknowledged");
    anchormq_testbed::check!(run.passed() && run.printed(&done), "expected \"{done}\"; {}", run.describe());
    let received = witness.until(READINGS, Duration::from_secs(10));
    let expected: Vec<u32> = (1..=READINGS).collect();
    let seen: Vec<u32> = received.keys().copied().collect();
    anchormq_testbed::check!(
        seen == expected,
        "mosquitto_sub received readings {seen:?}, expected {expected:?}"
    );
    Ok(())
}

/// The TAP link goes down for 3 s once reading [`DISTURB_AFTER`] arrived: TCP retransmits
/// over the outage, so the readings continue on the same connection.
fn link_down_and_up(env: &Env) -> CaseResult {
    let witness = Witness::start(&env.broker, "witness-link")?;
    let accepted = env.board.forwarder.accepted();
    let (run, outage) = std::thread::scope(|scope| {
        let outage = scope.spawn(|| -> Result<Duration> {
            witness.wait_for(DISTURB_AFTER, RUN_LIMIT)?;
            env.board.tap.set_link(false)?;
            let down = Instant::now();
            std::thread::sleep(Duration::from_secs(3));
            env.board.tap.set_link(true)?;
            Ok(down.elapsed())
        });
        let run = env.board.boot(Profile::Psk, env.broker.addr(Listener::Psk));
        (run, outage.join().unwrap_or_else(|_| Err("the outage thread panicked".into())))
    });
    let (run, outage) = (run?, outage?);
    all_readings_arrived(&run, &witness)?;
    let connections = env.board.forwarder.accepted() - accepted;
    anchormq_testbed::check!(
        connections == 1,
        "the guest opened {connections} connections over a {outage:.1?} outage, expected the first to survive"
    );
    println!("    the link was down for {outage:.1?}; the run took {:.1?}", run.took);
    Ok(())
}

/// The broker is killed and started again once reading [`DISTURB_AFTER`] arrived. The
/// forwarder refuses the guest until the witness has subscribed again, so the witness misses
/// nothing; the supervisor reconnects and the readings continue on the new connection (one
/// that was in flight at the kill, if any, is published again from the outbox).
fn broker_restart(env: &mut Env) -> CaseResult {
    let Env { board, broker } = env;
    let witness = Witness::start(broker, "witness-restart")?;
    let accepted = board.forwarder.accepted();
    let target = broker.addr(Listener::Psk);
    // A port nothing listens on: the forwarder's connections to it are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| format!("finding a closed port: {e}"))?;
    let board = &*board;
    let (run, restarted) = std::thread::scope(|scope| {
        let run = scope.spawn(|| board.boot(Profile::Psk, target));
        let restarted = (|| -> CaseResult {
            witness.wait_for(DISTURB_AFTER, RUN_LIMIT)?;
            let subscribed = witness.subscriptions(broker);
            board.forwarder.point_at(closed);
            broker.restart().map_err(|e| format!("restarting the broker: {e}"))?;
            witness.wait_subscribed(broker, subscribed, Duration::from_secs(20))?;
            board.forwarder.point_at(target);
            Ok(())
        })();
        (run.join().unwrap_or_else(|_| Err("the QEMU thread panicked".into())), restarted)
    });
    let run = run?;
    restarted?;
    all_readings_arrived(&run, &witness)?;
    let connections = board.forwarder.accepted() - accepted;
    anchormq_testbed::check!(
        connections >= 2,
        "the guest opened {connections} connection(s), expected a reconnect"
    );
    println!("    {connections} connections through the forwarder; the run took {:.1?}", run.took);
    Ok(())
}

/// chronyd serves the host's clock on the link: the firmware's first SNTP answer
/// (`figure sntp_unix_secs`, printed when the shared client set the clock) is the host's time
/// during the run, within [`SNTP_TOLERANCE`], and the readings arrive from the verified broker
/// with that clock as the certificate check's time.
fn sntp_from_chrony(env: &Env) -> CaseResult {
    let chrony = ntp::Chrony::start(HOST, &env.board.work.join("runs/chrony"))?;
    let before = unix_secs();
    let run = publishes(env, Profile::Certificates, Listener::Tls13)?;
    let after = unix_secs();
    drop(chrony);
    let synced = sntp_synced(&run, before, after)?;
    println!("    SNTP set the clock to {synced}; the host read {before} to {after}");
    Ok(())
}

/// Without an NTP server on the link the clock is never set, the readings still arrive (on
/// the RTC's time), and [`sntp_synced`], the check of [`sntp_from_chrony`], refuses the run and
/// says why: so that case fails when the SNTP path does not work.
fn no_ntp_server(env: &Env) -> CaseResult {
    let before = unix_secs();
    let run = publishes(env, Profile::Certificates, Listener::Tls13)?;
    let after = unix_secs();
    match sntp_synced(&run, before, after) {
        Ok(synced) => Err(format!(
            "the guest says SNTP set its clock to {synced}, with no NTP server on the link; {}",
            run.describe()
        )),
        Err(refusal) => {
            let first = refusal.split("; QEMU").next().unwrap_or(&refusal);
            println!("    the SNTP check refuses this run: {first}");
            Ok(())
        }
    }
}

/// The time the guest's first SNTP answer set its clock to, if that is the host's time during
/// the run (`before` to `after`, Unix seconds) within [`SNTP_TOLERANCE`].
fn sntp_synced(run: &Run, before: u64, after: u64) -> Result<u64> {
    let Some(synced) = run.figure("sntp_unix_secs") else {
        return Err(format!(
            "the firmware printed no `figure sntp_unix_secs`: no NTP server at {HOST}:{} answered its \
             SNTP request within the run ({:.1?}); its sntp lines: {:?}; {}",
            ntp::PORT,
            run.took,
            sntp_lines(run),
            run.describe()
        ));
    };
    let window = before.saturating_sub(SNTP_TOLERANCE)..=after.saturating_add(SNTP_TOLERANCE);
    if !window.contains(&synced) {
        return Err(format!(
            "SNTP set the guest's clock to {synced}, but the host's clock read {before} to {after} during the run"
        ));
    }
    Ok(synced)
}

/// The certificate check's time is SNTP's: with the goldfish RTC [`RTC_AHEAD`] ahead (past the
/// test leaf's 30 days), the same image is refused as expired at the RTC's time without an NTP
/// server, and with chronyd on the link its first round (which the firmware lets finish before
/// the first dial) sets the clock back, and every reading arrives from the verified broker.
fn sntp_corrects_the_rtc(env: &Env) -> CaseResult {
    let ahead = unix_secs().saturating_add(RTC_AHEAD.as_secs());
    let rfc3339 =
        anchormq::time::fmt_unix(UnixTime::since_unix_epoch(Duration::from_secs(ahead))).to_string();
    let base = rfc3339.trim_end_matches('Z').to_string();
    let broker = env.broker.addr(Listener::Tls13);

    let refused = env.board.boot_with_rtc(Profile::Certificates, broker, Some(base.clone()))?;
    let (expired, basis) = ("expired at", "from the device's time source");
    anchormq_testbed::check!(
        refused.exit_code() == Some(2) && refused.printed(expired) && refused.printed(basis),
        "with the RTC at {base} and no NTP server, expected the broker's certificate refused as \
         \"{expired} ... ({basis})\"; {}",
        refused.describe()
    );

    let chrony = ntp::Chrony::start(HOST, &env.board.work.join("runs/chrony-rtc"))?;
    let witness = Witness::start(&env.broker, "witness-sntp-rtc")?;
    let before = unix_secs();
    let run = env.board.boot_with_rtc(Profile::Certificates, broker, Some(base.clone()));
    let after = unix_secs();
    drop(chrony);
    let run = run?;
    let synced = sntp_synced(&run, before, after)?;
    all_readings_arrived(&run, &witness)?;
    println!("    the RTC started at {base}; SNTP set the clock to {synced} before the first dial");
    Ok(())
}

/// How far ahead of the host the RTC starts in [`sntp_corrects_the_rtc`]: past the test PKI's
/// leaf (valid for 30 days), within its CAs (365 days).
const RTC_AHEAD: Duration = Duration::from_secs(60 * 86_400);

/// How far (seconds) the guest's SNTP time may lie outside the host's clock during the run.
const SNTP_TOLERANCE: u64 = 3;

fn unix_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The console lines of the SNTP task.
fn sntp_lines(run: &Run) -> Vec<&str> {
    run.console.iter().map(String::as_str).filter(|line| line.contains("sntp:")).collect()
}

fn wrong_host(env: &Env) -> CaseResult {
    let run = env.board.boot(Profile::Certificates, env.broker.addr(Listener::WrongHost))?;
    let sentence = "mqtt: stopped: the broker's certificate was refused: the certificate is valid for \
                    wrong.example, 10.9.8.7, not for localhost: set the server name to one of these or \
                    reissue the certificate";
    anchormq_testbed::check!(run.printed(sentence), "expected \"{sentence}\"; {}", run.describe());
    // The firmware's exit code for a supervisor that stopped (main.rs, EXIT_STOPPED).
    anchormq_testbed::check!(run.exit_code() == Some(2), "expected exit code 2; {}", run.describe());
    anchormq_testbed::check!(
        !run.printed("mqtt: connected"),
        "the guest connected to the wrong host; {}",
        run.describe()
    );
    Ok(())
}

/// Where each profile's figures are kept after a run: `cargo xtask size` reads the target's
/// handshake heap from it (one `profile figure value` line each).
pub const FIGURES: &str = "target/riscv-virt/figures.txt";

/// Appends `run`'s figures under `profile` to [`FIGURES`] (the work directory is cleared at the
/// start of every `cargo xtask riscv-virt`, so the file holds one run's figures).
fn record_figures(work: &Path, profile: &str, run: &Run) -> Result {
    use std::io::Write as _;
    let path = work.join("figures.txt");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for (name, value) in run.figures() {
        writeln!(file, "{profile} {name} {value}").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The ESP32-C3's core clock, for the time estimates next to instruction counts.
const C3_HZ: f64 = 160e6;
/// Cycles per instruction assumed for them: 1, the single-issue in-order core's best case with
/// every fetch a cache hit. A lower bound: flash cache misses, taken branches, loads and the
/// divider add cycles, so a device takes longer.
const ASSUMED_CPI: f64 = 1.0;

fn print_figures(profile: &str, run: &Run) {
    println!("    figures ({profile} profile, {:.1?} in QEMU):", run.took);
    for (name, value) in run.figures() {
        if name.ends_with("_instructions") {
            let ms = value as f64 * ASSUMED_CPI / C3_HZ * 1e3;
            println!(
                "      {name:<40} {value:>12}   ~{ms:.1} ms at 160 MHz ({ASSUMED_CPI:.0} cycle per instruction)"
            );
        } else {
            println!("      {name:<40} {value:>12}");
        }
    }
}

/// `mosquitto_sub` on the broker's plain loopback listener, counting each reading's `seq`.
struct Witness {
    id: String,
    child: std::process::Child,
    received: Arc<Mutex<BTreeMap<u32, usize>>>,
}

impl Witness {
    fn start(broker: &Broker, id: &str) -> Result<Witness> {
        let subscribed =
            || broker.log_for(Listener::Plain).matches(&format!("Received SUBSCRIBE from {id}")).count();
        let before = subscribed();
        let mut child = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &broker.port(Listener::Plain).to_string()])
            .args(["-i", id, "-t", TOPIC, "-q", "1", "-V", "mqttv5"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("running mosquitto_sub: {e}"))?;
        let received = Arc::new(Mutex::new(BTreeMap::new()));
        let counts = received.clone();
        let stdout = child.stdout.take().ok_or("mosquitto_sub has no stdout")?;
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
                if let Some(seq) = seq_of(&line) {
                    *counts
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .entry(seq)
                        .or_insert(0) += 1;
                }
            }
        });
        let witness = Witness { id: id.to_string(), child, received };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if subscribed() > before {
                return Ok(witness);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(format!("mosquitto_sub {id} did not subscribe within 10 s"))
    }

    /// Waits until `count` distinct readings arrived.
    fn wait_for(&self, count: u32, limit: Duration) -> Result<()> {
        let received = self.until(count, limit);
        if received.len() >= count as usize {
            Ok(())
        } else {
            Err(format!("only {} readings arrived within {limit:?}, waiting for {count}", received.len()))
        }
    }

    /// How often the broker's plain listener logged this witness's SUBSCRIBE so far.
    fn subscriptions(&self, broker: &Broker) -> usize {
        broker.log_for(Listener::Plain).matches(&format!("Received SUBSCRIBE from {}", self.id)).count()
    }

    /// Waits until the witness subscribed again (mosquitto_sub reconnects on its own).
    fn wait_subscribed(&self, broker: &Broker, before: usize, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.subscriptions(broker) > before {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(format!("mosquitto_sub {} did not subscribe again within {limit:?}", self.id))
    }

    /// The readings received, once `count` distinct ones arrived or `limit` passed.
    fn until(&self, count: u32, limit: Duration) -> BTreeMap<u32, usize> {
        let started = Instant::now();
        loop {
            let received = self.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            if received.len() >= count as usize || started.elapsed() >= limit {
                return received;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `seq` of a reading (`{"seq":3,...}`).
fn seq_of(payload: &str) -> Option<u32> {
    let rest = payload.split("\"seq\":").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readings_sequence_number_is_found_in_its_payload() {
        assert_eq!(seq_of(r#"{"seq":17,"uptime_ms":5}"#), Some(17));
        assert_eq!(seq_of(r#"{"uptime_ms":5}"#), None);
        assert_eq!(seq_of("online"), None);
    }
}
