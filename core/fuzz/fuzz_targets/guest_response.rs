//! Guest-message responses: any bytes as a response message (header checks, AES-256-GCM
//! rejection), then the same bytes as the plaintext of an authentic MSG_REPORT_RSP or
//! MSG_KEY_RSP (payload parsers behind a valid tag), and the PSP-side request decoders and the
//! secrets page reader.
#![no_main]

use csc_core::guest::header::{HEADER_SIZE, MessageType};
use csc_core::guest::message::{Expected, open_response, seal_request};
use csc_core::guest::{KeyRequest, ReportMessage, SecretsPage, Vmpck, VmpckId, key, report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Vmpck::new([0x42; 32]);
    let id = VmpckId::new(1).expect("VMPCK1 exists");
    let (selector, body) = data.split_first().map_or((0, data), |(s, b)| (*s, b));
    let request_type = if selector & 1 == 0 {
        MessageType::REPORT_REQ
    } else {
        MessageType::KEY_REQ
    };
    let expected = Expected::answer_to(request_type, 7, id).expect("7 has a successor");

    // 1. The bytes as they might arrive from a hostile host.
    let mut raw = data.to_vec();
    if let Ok(plain) = open_response(&key, &expected, &mut raw) {
        let _ = report::parse_report_response(plain);
        let _ = key::parse_key_response(plain);
    }

    // 2. The bytes as the plaintext of an authentic response.
    let mut msg = vec![0u8; HEADER_SIZE + body.len()];
    if seal_request(&key, id, expected.msg_type, expected.seqno, body, &mut msg).is_ok() {
        let plain = open_response(&key, &expected, &mut msg).expect("an authentic response opens");
        assert_eq!(plain, body, "opening returns the sealed plaintext");
        if request_type == MessageType::REPORT_REQ {
            if let Ok(r) = report::parse_report_response(plain) {
                assert_eq!(r.as_bytes(), &body[0x20..0x20 + 1184]);
            }
        } else if let Ok(k) = key::parse_key_response(plain) {
            assert_eq!(&k.as_bytes()[..], &body[0x20..0x40]);
        }
        // Any other sequence number, type or key is refused.
        let mut again = vec![0u8; msg.len()];
        seal_request(
            &key,
            id,
            expected.msg_type,
            expected.seqno,
            body,
            &mut again,
        )
        .unwrap();
        let replay = Expected {
            seqno: expected.seqno + 2,
            ..expected
        };
        assert!(open_response(&key, &replay, &mut again.clone()).is_err());
        assert!(open_response(&Vmpck::new([0x43; 32]), &expected, &mut again).is_err());
    }

    // 3. The PSP side's readers.
    if let Ok(r) = KeyRequest::decode(body) {
        assert_eq!(&r.encode()[..], body, "a decoded key request encodes back");
    }
    if let Ok(m) = ReportMessage::decode(body) {
        assert_eq!(
            &m.encode()[..],
            body,
            "a decoded report request encodes back"
        );
    }
    if let Ok(page) = SecretsPage::parse(data) {
        let _ = (page.last_seqno(id), page.channel(id).is_ok());
    }
});
