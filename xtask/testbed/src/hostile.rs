//! A TLS 1.3 server that lies on purpose, for what no real broker sends: it reads one
//! ClientHello on a loopback port and answers with crafted records.
//!
//! Owns: just enough TLS 1.3 to be the peer an attacker on the path can be before anything is
//! authenticated: a ServerHello with its own P-256 key share (RFC 8446 §4.1.3, §4.2.8) and the
//! handshake traffic keys that follow from it (§7.1, §7.3), so a record it seals decrypts on
//! the client exactly as one from a real server would, and (for [`Answer::NoCertificateVerify`])
//! a Finished that verifies. Nothing here ever proves it holds a certificate's key: that is the
//! point.
//!
//! Never: listens beyond loopback, or serves more than one connection.
//!
//! Implements: RFC 8446 §4.1.2/§4.1.3 (parsing a ClientHello, building a ServerHello),
//! §4.3.1, §4.4.2, §4.4.4 (EncryptedExtensions, Certificate, Finished), §5.1/§5.2 (record
//! framing and protection), §7.1 (the key schedule up to the server's handshake traffic secret), with TLS_AES_128_GCM_SHA256 and secp256r1, the only suite and
//! group the embedded-tls engine offers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use sha2::{Digest, Sha256};

/// What the server answers a ClientHello with.
#[derive(Debug, Clone)]
pub enum Answer {
    /// These bytes, as they are (for example a bare record header).
    Raw(Vec<u8>),
    /// A ServerHello, then one record of application_data type protected with the server's
    /// handshake key, whose inner plaintext is this (empty: no content type at all, which RFC
    /// 8446 §5.2 does not allow).
    SealedAfterHello(Vec<u8>),
    /// A whole server flight that never proves the key: ServerHello, then EncryptedExtensions,
    /// Certificate (this chain of DER certificates, leaf first) and a Finished that verifies,
    /// with no CertificateVerify between them.
    NoCertificateVerify(Vec<Vec<u8>>),
    /// A HelloRetryRequest (RFC 8446 §4.1.4): a ServerHello with the special random, asking
    /// for a key share in this named group (for example X25519, `0x001d`).
    HelloRetry(u16),
}

/// A hostile server waiting for one connection.
#[derive(Debug)]
pub struct Hostile {
    addr: SocketAddr,
    thread: JoinHandle<Result<(), String>>,
}

impl Hostile {
    /// Listens on a free loopback port; the first connection gets `answer`, then the server
    /// waits up to 5 s for the client to hang up.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub fn start(answer: Answer) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
            serve(stream, &answer)
        });
        Ok(Self { addr, thread })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for the connection to end and says what went wrong on the server's side, if
    /// anything (a ClientHello it could not read, for example).
    ///
    /// # Errors
    /// The server's own failure, as a sentence.
    pub fn finish(self) -> Result<(), String> {
        self.thread.join().map_err(|_| "the hostile server panicked".to_string())?
    }
}

fn serve(mut stream: TcpStream, answer: &Answer) -> Result<(), String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let hello = read_record(&mut stream)?;
    let reply = match answer {
        Answer::Raw(bytes) => bytes.clone(),
        Answer::SealedAfterHello(inner) => sealed_after_hello(&hello, inner)?,
        Answer::NoCertificateVerify(chain) => flight_without_certificate_verify(&hello, chain)?,
        Answer::HelloRetry(group) => hello_retry(&hello, *group)?,
    };
    stream.write_all(&reply).map_err(|e| format!("write: {e}"))?;
    // Keep the connection open until the client gives up, so what it reports is its verdict on
    // the bytes, not on a closed socket.
    let mut sink = [0u8; 512];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

/// One record's body (the ClientHello arrives in one record).
fn read_record(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).map_err(|e| format!("reading the ClientHello header: {e}"))?;
    if header[0] != 0x16 {
        return Err(format!("expected a handshake record, got content type {}", header[0]));
    }
    let mut body = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
    stream.read_exact(&mut body).map_err(|e| format!("reading the ClientHello: {e}"))?;
    Ok(body)
}

/// The random that marks a ServerHello as a HelloRetryRequest: SHA-256 of
/// "HelloRetryRequest" (RFC 8446 §4.1.3).
fn hello_retry_random() -> [u8; 32] {
    Sha256::digest(b"HelloRetryRequest").into()
}

/// A HelloRetryRequest asking for `group`, echoing the client's session id.
fn hello_retry(client_hello: &[u8], group: u16) -> Result<Vec<u8>, String> {
    let hello = ClientHello::parse(client_hello)?;
    let mut extensions = Vec::new();
    extensions.extend_from_slice(&[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]); // supported_versions: 1.3
    extensions.extend_from_slice(&[0x00, 0x33, 0x00, 0x02]); // key_share: the selected group
    extensions.extend_from_slice(&group.to_be_bytes());
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&hello_retry_random());
    body.push(hello.session_id.len() as u8);
    body.extend_from_slice(hello.session_id);
    body.extend_from_slice(&[0x13, 0x01, 0x00]);
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    Ok(record(0x16, &handshake(2, &body)))
}

/// ServerHello (in a plaintext record), then the sealed record.
fn sealed_after_hello(client_hello: &[u8], inner: &[u8]) -> Result<Vec<u8>, String> {
    let (mut out, mut keys) = hello_and_keys(client_hello)?;
    keys.seal_raw(inner, &mut out)?;
    Ok(out)
}

/// ServerHello, then EncryptedExtensions, Certificate and Finished, each in its own record.
fn flight_without_certificate_verify(client_hello: &[u8], chain: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    let (mut out, mut keys) = hello_and_keys(client_hello)?;
    // EncryptedExtensions with no extensions (RFC 8446 §4.3.1).
    keys.seal_handshake(&handshake(8, &[0x00, 0x00]), &mut out)?;
    // Certificate (§4.4.2): no request context, each entry without extensions.
    let mut list = Vec::new();
    for der in chain {
        list.extend_from_slice(&u24(der.len()));
        list.extend_from_slice(der);
        list.extend_from_slice(&[0x00, 0x00]);
    }
    let mut body = vec![0x00];
    body.extend_from_slice(&u24(list.len()));
    body.extend_from_slice(&list);
    keys.seal_handshake(&handshake(11, &body), &mut out)?;
    // Finished (§4.4.4) over the transcript so far: it verifies, but nothing before it proved
    // that the server holds the certificate's key.
    let finished_key = expand_label(&keys.secret, b"finished", &[], 32)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&finished_key).map_err(|e| e.to_string())?;
    mac.update(&keys.transcript.clone().finalize());
    keys.seal_handshake(&handshake(20, &mac.finalize().into_bytes()), &mut out)?;
    Ok(out)
}

/// A ServerHello record answering `client_hello`, and the server's handshake keys after it.
fn hello_and_keys(client_hello: &[u8]) -> Result<(Vec<u8>, HandshakeKeys), String> {
    let hello = ClientHello::parse(client_hello)?;
    // A fixed ephemeral key: this server proves nothing, and a fixed key keeps it deterministic.
    let secret = p256::SecretKey::from_slice(&[0x42; 32]).map_err(|e| e.to_string())?;
    let client_key =
        p256::PublicKey::from_sec1_bytes(hello.p256_share).map_err(|e| format!("key share: {e}"))?;
    let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), client_key.as_affine());
    let server_hello = server_hello(hello.session_id, secret.public_key().to_encoded_point(false).as_bytes());
    let transcript = Sha256::new().chain_update(client_hello).chain_update(&server_hello);
    let keys = HandshakeKeys::new(shared.raw_secret_bytes(), transcript)?;
    Ok((record(0x16, &server_hello), keys))
}

/// The server's side of the handshake keys (RFC 8446 §7.1, §7.3), without a PSK.
struct HandshakeKeys {
    secret: Vec<u8>,
    cipher: Aes128Gcm,
    iv: [u8; 12],
    sequence: u64,
    transcript: Sha256,
}

impl HandshakeKeys {
    fn new(shared: &[u8], transcript: Sha256) -> Result<Self, String> {
        let (early, _) = Hkdf::<Sha256>::extract(None, &[0u8; 32]);
        let derived = expand_label(&early, b"derived", &Sha256::digest(b""), 32)?;
        let (handshake, _) = Hkdf::<Sha256>::extract(Some(&derived), shared);
        let secret = expand_label(&handshake, b"s hs traffic", &transcript.clone().finalize(), 32)?;
        let key = expand_label(&secret, b"key", &[], 16)?;
        let iv = expand_label(&secret, b"iv", &[], 12)?;
        let cipher = Aes128Gcm::new_from_slice(&key).map_err(|e| e.to_string())?;
        Ok(Self { secret, cipher, iv: iv.try_into().map_err(|_| "iv length")?, sequence: 0, transcript })
    }

    /// Seals a handshake message (inner content type 22) and adds it to the transcript.
    fn seal_handshake(&mut self, message: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.transcript.update(message);
        let mut inner = message.to_vec();
        inner.push(0x16);
        self.seal_raw(&inner, out)
    }

    /// Seals `inner` as it is (the caller appends the content type, or leaves it out) into one
    /// application_data record.
    fn seal_raw(&mut self, inner: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let sealed_len = inner.len() + 16;
        let header = [0x17, 0x03, 0x03, (sealed_len >> 8) as u8, sealed_len as u8];
        let mut nonce = self.iv;
        for (n, s) in nonce.iter_mut().rev().zip(self.sequence.to_le_bytes()) {
            *n ^= s;
        }
        self.sequence += 1;
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: inner, aad: &header })
            .map_err(|e| format!("sealing: {e}"))?;
        out.extend_from_slice(&header);
        out.extend_from_slice(&sealed);
        Ok(())
    }
}

/// A handshake message: type, 24-bit length, body (RFC 8446 §4).
fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut message = vec![kind];
    message.extend_from_slice(&u24(body.len()));
    message.extend_from_slice(body);
    message
}

/// What the server needs from a ClientHello (RFC 8446 §4.1.2).
struct ClientHello<'a> {
    session_id: &'a [u8],
    p256_share: &'a [u8],
}

impl<'a> ClientHello<'a> {
    fn parse(message: &'a [u8]) -> Result<Self, String> {
        let mut r = Bytes(message);
        if r.take(1)? != [1] {
            return Err("not a ClientHello".into());
        }
        r.take(3)?; // length
        r.take(2 + 32)?; // legacy_version, random
        let session_id = r.vec(1)?;
        r.vec(2)?; // cipher_suites
        r.vec(1)?; // legacy_compression_methods
        let mut extensions = Bytes(r.vec(2)?);
        while !extensions.0.is_empty() {
            let kind = extensions.take(2)?;
            let mut body = Bytes(extensions.vec(2)?);
            if kind == [0x00, 0x33] {
                let mut shares = Bytes(body.vec(2)?);
                while !shares.0.is_empty() {
                    let group = shares.take(2)?;
                    let key = shares.vec(2)?;
                    if group == [0x00, 0x17] {
                        return Ok(Self { session_id, p256_share: key });
                    }
                }
            }
        }
        Err("the ClientHello offers no secp256r1 key share".into())
    }
}

/// A cursor over bytes that refuses to read past the end.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let (head, rest) = self.0.split_at_checked(n).ok_or("the ClientHello is truncated")?;
        self.0 = rest;
        Ok(head)
    }

    /// A vector with a length prefix of `width` bytes.
    fn vec(&mut self, width: usize) -> Result<&'a [u8], String> {
        let len = self.take(width)?.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        self.take(len)
    }
}

/// A ServerHello choosing TLS 1.3, TLS_AES_128_GCM_SHA256 and secp256r1 with `share`.
fn server_hello(session_id: &[u8], share: &[u8]) -> Vec<u8> {
    let mut extensions = Vec::new();
    extensions.extend_from_slice(&[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]); // supported_versions: 1.3
    extensions.extend_from_slice(&[0x00, 0x33]); // key_share
    extensions.extend_from_slice(&((share.len() + 4) as u16).to_be_bytes());
    extensions.extend_from_slice(&[0x00, 0x17]);
    extensions.extend_from_slice(&(share.len() as u16).to_be_bytes());
    extensions.extend_from_slice(share);

    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x5a; 32]); // random
    body.push(session_id.len() as u8);
    body.extend_from_slice(session_id);
    body.extend_from_slice(&[0x13, 0x01, 0x00]); // TLS_AES_128_GCM_SHA256, no compression
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);

    handshake(2, &body)
}

/// A 24-bit length, as handshake messages and certificate lists carry them (RFC 8446 §4).
fn u24(len: usize) -> [u8; 3] {
    let [_, a, b, c] = (len as u32).to_be_bytes();
    [a, b, c]
}

fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type, 0x03, 0x03];
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// HKDF-Expand-Label (RFC 8446 §7.1).
fn expand_label(secret: &[u8], label: &[u8], context: &[u8], len: usize) -> Result<Vec<u8>, String> {
    let mut info = (len as u16).to_be_bytes().to_vec();
    info.push((6 + label.len()) as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(context.len() as u8);
    info.extend_from_slice(context);
    let prk = Hkdf::<Sha256>::from_prk(secret).map_err(|_| "a pseudorandom key of the wrong length")?;
    let mut out = vec![0u8; len];
    prk.expand(&info, &mut out).map_err(|_| "HKDF output too long")?;
    Ok(out)
}
