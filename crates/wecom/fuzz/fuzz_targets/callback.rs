//! Fuzzes everything an attacker controls in a WeCom callback: the signature check, the decryption
//! (base64, AES-CBC, the 32-byte PKCS#7 unpad, the length field, the receive id) and the event parser.
//! Input layout: `signature \n timestamp \n nonce \n body`. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wecom::{MsgCrypt, parse_event};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(crypt) = MsgCrypt::new("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C") else { return };
    let mut parts = text.splitn(4, '\n');
    let (signature, timestamp, nonce, body) =
        (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let _ = crypt.verify_signature(signature, timestamp, nonce, body);
    let _ = crypt.decrypt_message(signature, timestamp, nonce, body);
    if let Ok(decrypted) = crypt.decrypt(body) {
        let _ = parse_event(&decrypted.message);
    }
    let _ = parse_event(text);
    // Deeper paths: a correctly encrypted copy of the input must decrypt back to itself.
    let encrypted = crypt.encrypt(text, nonce);
    match crypt.decrypt(&encrypted) {
        Ok(d) => assert!(d.message == text && d.receive_id == nonce),
        Err(e) => panic!("round trip failed: {e}"),
    }
});
