//! Session behaviour against scripted devices: phases, ids, streaming, errors.

use std::io::{self, Write};
use std::time::Duration;

use super::fake::{self, data, ok, response};
use super::*;
use crate::ptp::{
    Codec, ObjectFormat, ObjectHandle, ObjectInfo, ObjectPropList, PropListEntry, PropertyCode, StorageId,
    StorageInfo, Writer,
};
use crate::ptp::{DataType, Value};

fn info_with(ops: &[OperationCode]) -> DeviceInfo {
    let mut ops = ops.to_vec();
    ops.extend([
        OperationCode::GET_DEVICE_INFO,
        OperationCode::OPEN_SESSION,
        OperationCode::GET_STORAGE_IDS,
        OperationCode::GET_OBJECT_HANDLES,
        OperationCode::GET_OBJECT_INFO,
        OperationCode::GET_OBJECT,
    ]);
    DeviceInfo {
        manufacturer: "Test".into(),
        model: "Scripted".into(),
        serial_number: "S1".into(),
        operations_supported: ops,
        ..DeviceInfo::default()
    }
}

fn open(ops: &[OperationCode], chunk: usize) -> (Session, fake::Handle) {
    let (transport, handle) = fake::opening(&info_with(ops), chunk);
    (Session::open(transport).unwrap(), handle)
}

fn u32_array(values: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_u32_array(values);
    out
}

#[test]
fn opening_uses_transaction_zero_then_counts_from_one() {
    let (mut session, device) = open(&[], 5);
    device.push(data(OperationCode::GET_STORAGE_IDS, 1, &u32_array(&[0x10001])));
    device.push(ok(1, &[]));
    assert_eq!(session.storage_ids().unwrap(), [StorageId(0x10001)]);
    let commands = device.commands();
    let summary: Vec<_> = commands
        .iter()
        .map(|c| (c.code, c.transaction_id, c.params.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (0x1001, 0, vec![]),
            (0x1002, 0, vec![SESSION_ID]),
            (0x1004, 1, vec![])
        ]
    );
    assert_eq!(session.device_info().model, "Scripted");
    assert_eq!(session.stats().total(), 3);
    assert_eq!(session.stats().count(OperationCode::GET_STORAGE_IDS), 1);
}

#[test]
fn a_session_left_open_is_closed_and_opened_again() {
    let (transport, device) = fake::new(512);
    device.push(data(
        OperationCode::GET_DEVICE_INFO,
        0,
        &info_with(&[]).to_bytes(),
    ));
    device.push(ok(0, &[]));
    device.push(response(ResponseCode::SESSION_ALREADY_OPEN, 0, &[]));
    device.push(ok(1, &[])); // CloseSession
    device.push(ok(0, &[])); // OpenSession again
    let session = Session::open(transport).unwrap();
    let codes: Vec<_> = device.commands().iter().map(|c| c.code).collect();
    assert_eq!(codes, [0x1001, 0x1002, 0x1003, 0x1002]);
    assert_eq!(session.next_transaction_id, 1);
}

#[test]
fn get_object_streams_a_phase_split_into_many_reads() {
    let (mut session, device) = open(&[], 7);
    let payload: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    device.push(data(OperationCode::GET_OBJECT, 1, &payload));
    device.push(ok(1, &[]));
    let mut sink = Vec::new();
    assert_eq!(session.get_object(ObjectHandle(9), &mut sink).unwrap(), 5000);
    assert_eq!(sink, payload);
    assert_eq!(device.unread_phases(), 0);
}

#[test]
fn unknown_length_data_is_read_until_the_phase_ends() {
    let (mut session, device) = open(&[], 4096);
    let mut phase = Vec::new();
    crate::ptp::Header {
        length: crate::ptp::LENGTH_UNKNOWN,
        kind: ContainerKind::Data,
        code: OperationCode::GET_OBJECT.0,
        transaction_id: 1,
    }
    .encode(&mut phase);
    phase.extend(std::iter::repeat_n(0xAB, 10_000));
    device.push(phase);
    device.push(ok(1, &[]));
    let mut sink = Vec::new();
    assert_eq!(session.get_object(ObjectHandle(3), &mut sink).unwrap(), 10_000);
    assert!(sink.iter().all(|&b| b == 0xAB));
}

#[test]
fn a_device_that_omits_the_zero_length_packet_is_understood() {
    let (mut session, device) = open(&[], 4096);
    // 500 payload bytes fill exactly one 512-byte packet; the response follows
    // without the phase-ending zero-length packet, in the same transfer.
    let mut phase = data(OperationCode::GET_OBJECT, 1, &[9; 500]);
    phase.extend(ok(1, &[]));
    device.push(phase);
    let mut sink = Vec::new();
    assert_eq!(session.get_object(ObjectHandle(1), &mut sink).unwrap(), 500);
    assert_eq!(sink, [9; 500]);
    // And the ordinary way, with the phase ended, still works after it.
    device.push(data(OperationCode::GET_OBJECT, 2, &[8; 500]));
    device.push(ok(2, &[]));
    assert_eq!(session.get_object(ObjectHandle(1), &mut Vec::new()).unwrap(), 500);
    assert_eq!(device.unread_phases(), 0);
}

#[test]
fn a_response_for_another_transaction_is_a_protocol_error() {
    let (mut session, device) = open(&[], 512);
    device.push(data(OperationCode::GET_STORAGE_IDS, 1, &u32_array(&[1])));
    device.push(ok(7, &[]));
    let err = session.storage_ids().unwrap_err();
    assert!(matches!(err, SessionError::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("transaction 7"), "{err}");
    assert!(err.needs_recovery());
}

#[test]
fn a_data_phase_for_another_operation_is_a_protocol_error() {
    let (mut session, device) = open(&[], 512);
    device.push(data(OperationCode::GET_OBJECT_INFO, 1, &[0; 8]));
    let err = session.storage_ids().unwrap_err();
    assert!(err.to_string().contains("data phase for GetObjectInfo"), "{err}");
    assert_eq!(device.unread_phases(), 0, "the bad phase is drained");
}

#[test]
fn a_data_phase_where_none_belongs_is_a_protocol_error() {
    let (mut session, device) = open(&[OperationCode::DELETE_OBJECT], 512);
    device.push(data(OperationCode::DELETE_OBJECT, 1, &[1, 2, 3]));
    let err = session.delete_object(ObjectHandle(4)).unwrap_err();
    assert!(matches!(err, SessionError::Protocol { .. }), "{err}");
}

#[test]
fn a_data_phase_shorter_than_announced_is_a_protocol_error() {
    let (mut session, device) = open(&[], 512);
    let mut phase = data(OperationCode::GET_OBJECT, 1, &[0; 100]);
    phase.truncate(60);
    device.push(phase);
    device.push(ok(1, &[]));
    let err = session.get_object(ObjectHandle(1), &mut Vec::new()).unwrap_err();
    assert!(
        err.to_string()
            .contains("carried 48 bytes, its header announced 100"),
        "{err}"
    );
}

#[test]
fn a_truncated_dataset_is_a_dataset_error() {
    let (mut session, device) = open(&[], 512);
    let storage = StorageInfo {
        description: "Internal".into(),
        ..StorageInfo::default()
    };
    let bytes = storage.to_bytes();
    device.push(data(OperationCode::GET_STORAGE_INFO, 1, &bytes[..10]));
    device.push(ok(1, &[]));
    let err = session.storage_info(StorageId(0x10001)).unwrap_err();
    assert!(matches!(err, SessionError::Dataset { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("GetStorageInfo returned a malformed dataset"),
        "{err}"
    );
}

#[test]
fn a_wrong_container_type_is_a_protocol_error() {
    let (mut session, device) = open(&[], 512);
    device.push(crate::ptp::Message::event(0x4004u16, 1, &[1]).encode());
    let err = session.storage_ids().unwrap_err();
    assert!(
        err.to_string()
            .contains("Event container where the response was due"),
        "{err}"
    );
    let mut garbage = ok(1, &[]);
    garbage[4] = 9; // container type 9 does not exist
    device.push(garbage);
    let err = session.storage_ids().unwrap_err();
    assert!(err.to_string().contains("unreadable container header"), "{err}");
    device.push(vec![1, 2, 3]);
    let err = session.storage_ids().unwrap_err();
    assert!(err.to_string().contains("3-byte container"), "{err}");
}

#[test]
fn refusals_while_no_storage_is_shown_say_the_phone_is_locked() {
    let (mut session, device) = open(&[], 512);
    device.push(data(OperationCode::GET_STORAGE_IDS, 1, &u32_array(&[])));
    device.push(ok(1, &[]));
    assert!(session.storage_ids().unwrap().is_empty());
    device.push(response(ResponseCode::INVALID_STORAGE_ID, 2, &[]));
    let err = session
        .object_handles(StorageId(0x10001), None, ROOT)
        .unwrap_err();
    assert!(err.is_locked());
    assert!(err.to_string().starts_with(LOCKED_HINT), "{err}");
}

#[test]
fn the_same_refusal_with_storages_present_is_a_plain_device_error() {
    let (mut session, device) = open(&[], 512);
    device.push(response(ResponseCode::INVALID_STORAGE_ID, 1, &[]));
    let err = session.object_handles(StorageId(5), None, ROOT).unwrap_err();
    assert_eq!(err.response_code(), Some(ResponseCode::INVALID_STORAGE_ID));
    assert!(!err.is_locked());
}

#[test]
fn partial_reads_pick_the_64_bit_operation_when_listed() {
    let (mut session, device) = open(&[OperationCode::GET_PARTIAL_OBJECT_64], 512);
    device.push(data(OperationCode::GET_PARTIAL_OBJECT_64, 1, &[7; 10]));
    device.push(ok(1, &[10]));
    let mut sink = Vec::new();
    let offset = (5u64 << 32) + 3;
    assert_eq!(
        session
            .get_partial_object(ObjectHandle(2), offset, 10, &mut sink)
            .unwrap(),
        10
    );
    let last = device.commands().pop().unwrap();
    assert_eq!(last.code, 0x95C1);
    assert_eq!(last.params, [2, 3, 5, 10]);
}

#[test]
fn partial_reads_fall_back_to_32_bits_and_refuse_offsets_beyond() {
    let (mut session, device) = open(&[OperationCode::GET_PARTIAL_OBJECT], 512);
    device.push(data(OperationCode::GET_PARTIAL_OBJECT, 1, &[1, 2]));
    device.push(ok(1, &[2]));
    let mut sink = Vec::new();
    assert_eq!(
        session
            .get_partial_object(ObjectHandle(2), 100, 50, &mut sink)
            .unwrap(),
        2
    );
    assert_eq!(device.commands().pop().unwrap().params, [2, 100, 50]);
    let err = session
        .get_partial_object(ObjectHandle(2), 5 << 30, 50, &mut sink)
        .unwrap_err();
    assert!(matches!(err, SessionError::Unsupported { .. }), "{err}");
}

#[test]
fn the_partial_reads_byte_count_is_advisory_the_data_decides() {
    // Behaviour 15: devices get the response's count wrong; peers ignore it.
    let (mut session, device) = open(&[OperationCode::GET_PARTIAL_OBJECT], 512);
    device.push(data(OperationCode::GET_PARTIAL_OBJECT, 1, &[1, 2]));
    device.push(ok(1, &[5]));
    let mut bytes = Vec::new();
    let sent = session
        .get_partial_object(ObjectHandle(2), 0, 50, &mut bytes)
        .unwrap();
    assert_eq!((sent, bytes), (2, vec![1, 2]));
}

#[test]
fn send_object_sends_the_info_then_streams_the_file() {
    let (mut session, device) = open(&[OperationCode::SEND_OBJECT_INFO], 512);
    device.push(ok(1, &[0x10001, 7, 42]));
    device.push(ok(2, &[]));
    let info = ObjectInfo {
        storage_id: 0x10001,
        format: ObjectFormat::EXIF_JPEG,
        filename: "a.jpg".into(),
        ..ObjectInfo::default()
    };
    let content = vec![5u8; 3_000_000];
    let handle = session
        .send_object(
            StorageId(0x10001),
            ObjectHandle(7),
            &info,
            &mut content.as_slice(),
            content.len() as u64,
        )
        .unwrap();
    assert_eq!(handle, ObjectHandle(42));
    let sent = device.sent();
    let phases: Vec<_> = sent
        .iter()
        .map(|p| (p[4], u16::from_le_bytes([p[6], p[7]])))
        .collect();
    assert_eq!(
        phases,
        [
            (1, 0x1001),
            (1, 0x1002),
            (1, 0x100C),
            (2, 0x100C),
            (1, 0x100D),
            (2, 0x100D)
        ]
    );
    let sent_info = ObjectInfo::decode(&sent[3][12..]).unwrap();
    assert_eq!(sent_info.compressed_size, 3_000_000);
    assert_eq!(&sent[5][12..], &content[..]);
}

#[test]
fn a_short_source_is_reported_as_a_local_read_error() {
    let (mut session, device) = open(&[OperationCode::SEND_OBJECT_INFO], 512);
    device.push(ok(1, &[1, 0, 9]));
    let err = session
        .send_object(
            StorageId(1),
            ObjectHandle(0),
            &ObjectInfo::default(),
            &mut &[1u8, 2][..],
            10,
        )
        .unwrap_err();
    assert!(err.to_string().contains("ended after 2 of 10 bytes"), "{err}");
    assert!(err.needs_recovery());
}

struct FailingSink;

impl Write for FailingSink {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_sink_still_completes_the_transaction() {
    let (mut session, device) = open(&[], 100);
    device.push(data(OperationCode::GET_OBJECT, 1, &[0; 1000]));
    device.push(ok(1, &[]));
    let err = session.get_object(ObjectHandle(1), &mut FailingSink).unwrap_err();
    assert!(
        err.to_string().contains("writing the received data: disk full"),
        "{err}"
    );
    assert!(!err.needs_recovery());
    // The session is still in step: the next transaction works.
    device.push(data(OperationCode::GET_STORAGE_IDS, 2, &u32_array(&[3])));
    device.push(ok(2, &[]));
    assert_eq!(session.storage_ids().unwrap(), [StorageId(3)]);
}

#[test]
fn events_are_decoded_and_a_locked_phone_is_waited_for() {
    let (mut session, device) = open(&[], 512);
    assert_eq!(session.next_event(Duration::ZERO).unwrap(), None);
    device.push(data(OperationCode::GET_STORAGE_IDS, 1, &u32_array(&[])));
    device.push(ok(1, &[]));
    device.push_event(crate::ptp::Message::event(0x4008u16, 0, &[]).encode());
    device.push_event(crate::ptp::Message::event(0x4004u16, 0, &[0x10001]).encode());
    device.push(data(OperationCode::GET_STORAGE_IDS, 2, &u32_array(&[0x10001])));
    device.push(ok(2, &[]));
    assert_eq!(
        session.wait_for_storages(Duration::from_secs(5)).unwrap(),
        [StorageId(0x10001)]
    );
    assert_eq!(session.stats().count(OperationCode::GET_STORAGE_IDS), 2);
}

#[test]
fn waiting_gives_up_with_no_storage_when_nothing_arrives() {
    let (mut session, device) = open(&[], 512);
    device.push(data(OperationCode::GET_STORAGE_IDS, 1, &u32_array(&[])));
    device.push(ok(1, &[]));
    assert!(
        session
            .wait_for_storages(Duration::from_millis(10))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn recover_cancels_drains_clears_the_halt_and_opens_a_new_session() {
    let (mut session, device) = open(&[], 512);
    // The drain reads until the device is quiet (one timeout), then OpenSession.
    device.time_out_reads(1);
    device.push(ok(0, &[]));
    session.recover().unwrap();
    assert_eq!(device.cancelled().len(), 1, "Cancel, never the class reset");
    assert_eq!(device.halts_cleared(), 1);
    let last = device.commands().pop().unwrap();
    assert_eq!((last.code, last.transaction_id), (0x1002, 0));
    assert_eq!(session.next_transaction_id, 1);
}

#[test]
fn unsupported_optional_operations_cost_no_round_trip() {
    let (mut session, _device) = open(&[], 512);
    let before = session.stats().total();
    let err = session.get_thumb(ObjectHandle(1), &mut Vec::new()).unwrap_err();
    assert_eq!(err.to_string(), "the device does not support GetThumb");
    assert_eq!(session.stats().total(), before);
}

#[test]
fn prop_values_and_64_bit_sizes_are_read() {
    let (mut session, device) = open(&[OperationCode::GET_OBJECT_PROP_VALUE], 512);
    let mut value = Vec::new();
    Value::Int(DataType::UINT64, 5 << 30).encode(&mut value);
    device.push(data(OperationCode::GET_OBJECT_PROP_VALUE, 1, &value));
    device.push(ok(1, &[]));
    assert_eq!(session.object_size(ObjectHandle(4)).unwrap(), 5 << 30);
    assert_eq!(device.commands().pop().unwrap().params, [4, 0xDC04]);
}

#[test]
fn prop_lists_carry_the_query() {
    let (mut session, device) = open(&[OperationCode::GET_OBJECT_PROP_LIST], 512);
    let list = ObjectPropList {
        entries: vec![PropListEntry {
            handle: 3,
            property: PropertyCode::OBJECT_FILE_NAME,
            value: Value::Str("x.jpg".into()),
        }],
    };
    device.push(data(OperationCode::GET_OBJECT_PROP_LIST, 1, &list.to_bytes()));
    device.push(ok(1, &[]));
    assert_eq!(
        session
            .object_prop_list(&PropListQuery::children(ObjectHandle(8)))
            .unwrap(),
        list
    );
    assert_eq!(device.commands().pop().unwrap().params, [8, 0, ALL, 0, 1]);
}

// ---- listing ----

/// Prop-list elements describing one object, as Android sends them.
fn object_props(
    handle: u32,
    storage: u32,
    parent: u32,
    name: &str,
    format: ObjectFormat,
    size: u64,
) -> Vec<PropListEntry> {
    let int = |t, v: u64| Value::Int(t, u128::from(v));
    [
        (
            PropertyCode::STORAGE_ID,
            int(DataType::UINT32, u64::from(storage)),
        ),
        (
            PropertyCode::OBJECT_FORMAT,
            int(DataType::UINT16, u64::from(format.0)),
        ),
        (PropertyCode::OBJECT_SIZE, int(DataType::UINT64, size)),
        (PropertyCode::OBJECT_FILE_NAME, Value::Str(name.into())),
        (
            PropertyCode::PARENT_OBJECT,
            int(DataType::UINT32, u64::from(parent)),
        ),
        (PropertyCode::DATE_MODIFIED, Value::Str("20240526T101500".into())),
    ]
    .into_iter()
    .map(|(property, value)| PropListEntry {
        handle,
        property,
        value,
    })
    .collect()
}

fn prop_list(objects: &[Vec<PropListEntry>]) -> Vec<u8> {
    ObjectPropList {
        entries: objects.concat(),
    }
    .to_bytes()
}

const PROP_LIST: OperationCode = OperationCode::GET_OBJECT_PROP_LIST;

#[test]
fn a_refused_all_objects_listing_falls_back_to_one_request_per_folder_once() {
    let (mut session, device) = open(&[PROP_LIST], 512);
    let dcim = object_props(1, 0x10001, 0, "DCIM", ObjectFormat::ASSOCIATION, 0);
    let other_storage = object_props(2, 0x20001, 0, "Android", ObjectFormat::ASSOCIATION, 0);
    let photo = object_props(3, 0x10001, 1, "IMG_1.jpg", ObjectFormat::EXIF_JPEG, 5 << 30);
    // Transaction 1: all objects, refused.
    device.push(response(ResponseCode::SPECIFICATION_BY_DEPTH_UNSUPPORTED, 1, &[]));
    // 2: the root's children (of every storage, as Android answers).
    device.push(data(PROP_LIST, 2, &prop_list(&[dcim.clone(), other_storage])));
    device.push(ok(2, &[]));
    // 3: DCIM's children, with DCIM itself, as Android adds it.
    device.push(data(PROP_LIST, 3, &prop_list(&[photo, dcim])));
    device.push(ok(3, &[]));
    let entries = session.walk(StorageId(0x10001), None).unwrap();
    let paths: Vec<_> = entries.iter().map(|e| e.path().join("/")).collect();
    assert_eq!(paths, ["DCIM", "DCIM/IMG_1.jpg"]);
    assert_eq!(entries[1].size, 5 << 30);
    assert_eq!(entries[1].parent, ObjectHandle(1));
    assert_eq!(
        session.listing_strategy(),
        Some(ListingStrategy::PropListPerFolder)
    );
    let params: Vec<_> = device.commands()[2..].iter().map(|c| c.params.clone()).collect();
    assert_eq!(
        params,
        [
            vec![ALL, 0, ALL, 0, ALL],
            vec![0, 0, ALL, 0, 1],
            vec![1, 0, ALL, 0, 1]
        ]
    );

    // A second walk does not ask for all objects again.
    let empty_dcim = object_props(1, 0x10001, 0, "DCIM", ObjectFormat::ASSOCIATION, 0);
    device.push(data(PROP_LIST, 4, &prop_list(&[empty_dcim])));
    device.push(ok(4, &[]));
    device.push(data(PROP_LIST, 5, &prop_list(&[])));
    device.push(ok(5, &[]));
    assert_eq!(session.walk(StorageId(0x10001), None).unwrap().len(), 1);
    assert_eq!(session.stats().count(PROP_LIST), 5);
}

#[test]
fn an_accepted_all_objects_listing_is_one_round_trip() {
    let (mut session, device) = open(&[PROP_LIST], 512);
    let objects = [
        object_props(3, 0x10001, 1, "IMG_1.jpg", ObjectFormat::EXIF_JPEG, 10),
        object_props(1, 0x10001, 0, "DCIM", ObjectFormat::ASSOCIATION, 0),
        object_props(2, 0x20001, 0, "Other", ObjectFormat::ASSOCIATION, 0),
    ];
    device.push(data(PROP_LIST, 1, &prop_list(&objects)));
    device.push(ok(1, &[]));
    let entries = session.walk(StorageId(0x10001), None).unwrap();
    let paths: Vec<_> = entries.iter().map(|e| e.path().join("/")).collect();
    assert_eq!(
        paths,
        ["DCIM", "DCIM/IMG_1.jpg"],
        "parents first, other storages left out"
    );
    assert_eq!(
        entries[1].modified.unwrap().local.to_string(),
        "2024-05-26 10:15:00"
    );
    assert_eq!(session.listing_strategy(), Some(ListingStrategy::AllObjects));
    assert_eq!(session.stats().count(PROP_LIST), 1);
}

#[test]
fn an_all_objects_answer_that_is_not_a_tree_is_not_trusted() {
    let (mut session, device) = open(&[PROP_LIST], 512);
    // Object 3's parent 9 is nowhere: fall back to walking folder by folder.
    let orphan = object_props(3, 0x10001, 9, "lost.jpg", ObjectFormat::EXIF_JPEG, 10);
    device.push(data(PROP_LIST, 1, &prop_list(&[orphan])));
    device.push(ok(1, &[]));
    device.push(data(PROP_LIST, 2, &prop_list(&[])));
    device.push(ok(2, &[]));
    assert!(session.walk(StorageId(0x10001), None).unwrap().is_empty());
    assert_eq!(session.stats().count(PROP_LIST), 2);
}

#[test]
fn children_whose_object_info_names_another_parent_are_dropped_and_asked_once() {
    // A camera that ignores the parent filter (Fuji: every object for the
    // root) and lists a folder inside itself (Canon EOS).
    let (mut session, device) = open(&[], 512);
    let folder = ObjectInfo {
        storage_id: 1,
        format: ObjectFormat::ASSOCIATION,
        filename: "100CANON".into(),
        ..ObjectInfo::default()
    };
    let photo = ObjectInfo {
        storage_id: 1,
        format: ObjectFormat::EXIF_JPEG,
        parent: 5,
        compressed_size: 3,
        filename: "IMG_0001.JPG".into(),
        ..ObjectInfo::default()
    };
    device.push(data(OperationCode::GET_OBJECT_HANDLES, 1, &u32_array(&[5, 6])));
    device.push(ok(1, &[]));
    device.push(data(OperationCode::GET_OBJECT_INFO, 2, &folder.to_bytes()));
    device.push(ok(2, &[]));
    device.push(data(OperationCode::GET_OBJECT_INFO, 3, &photo.to_bytes()));
    device.push(ok(3, &[]));
    device.push(data(OperationCode::GET_OBJECT_HANDLES, 4, &u32_array(&[5, 6])));
    device.push(ok(4, &[]));
    let entries = session.walk(StorageId(1), None).unwrap();
    let paths: Vec<String> = entries.iter().map(|e| e.path().join("/")).collect();
    assert_eq!(paths, ["100CANON", "100CANON/IMG_0001.JPG"]);
    assert_eq!(entries[1].parent, ObjectHandle(5));
    assert_eq!(session.stats().count(OperationCode::GET_OBJECT_INFO), 2);
    assert_eq!(device.unread_phases(), 0);
}

#[test]
fn without_prop_lists_the_walk_uses_object_info_and_asks_big_sizes() {
    let (mut session, device) = open(&[OperationCode::GET_OBJECT_PROP_VALUE], 512);
    let video = ObjectInfo {
        storage_id: 1,
        format: ObjectFormat::MP4_CONTAINER,
        compressed_size: u32::MAX, // "4 GiB or more"
        filename: "big.mp4".into(),
        date_created: "20230101T000000".into(),
        ..ObjectInfo::default()
    };
    device.push(data(OperationCode::GET_OBJECT_HANDLES, 1, &u32_array(&[8])));
    device.push(ok(1, &[]));
    device.push(data(OperationCode::GET_OBJECT_INFO, 2, &video.to_bytes()));
    device.push(ok(2, &[]));
    let mut size = Vec::new();
    Value::Int(DataType::UINT64, 6 << 30).encode(&mut size);
    device.push(data(OperationCode::GET_OBJECT_PROP_VALUE, 3, &size));
    device.push(ok(3, &[]));
    let entries = session.walk(StorageId(1), None).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].size, 6 << 30);
    assert_eq!(
        entries[0].modified.unwrap().local.to_string(),
        "2023-01-01 00:00:00"
    );
    assert_eq!(session.listing_strategy(), Some(ListingStrategy::HandlesAndInfo));
    let handles_call = &device.commands()[2];
    assert_eq!(handles_call.params, [1, 0, ROOT.0]);
}

#[test]
fn find_follows_a_path_one_folder_at_a_time() {
    let (mut session, device) = open(&[PROP_LIST], 512);
    let dcim = object_props(1, 7, 0, "DCIM", ObjectFormat::ASSOCIATION, 0);
    let camera = object_props(2, 7, 1, "Camera", ObjectFormat::ASSOCIATION, 0);
    device.push(data(PROP_LIST, 1, &prop_list(&[dcim])));
    device.push(ok(1, &[]));
    device.push(data(PROP_LIST, 2, &prop_list(&[camera])));
    device.push(ok(2, &[]));
    let found = session.find(StorageId(7), &["DCIM", "Camera"]).unwrap().unwrap();
    assert_eq!(
        (found.handle, found.path().join("/")),
        (ObjectHandle(2), "DCIM/Camera".to_string())
    );
    device.push(data(PROP_LIST, 3, &prop_list(&[])));
    device.push(ok(3, &[]));
    assert_eq!(session.find(StorageId(7), &["nope"]).unwrap(), None);
}

#[test]
fn a_device_left_mid_transaction_is_cancelled_and_cleared_once_at_open() {
    let (transport, handle) = fake::opening(&info_with(&[]), 64);
    handle.stall_commands(1);
    let session = Session::open(transport).unwrap();
    assert_eq!(handle.halts_cleared(), 1);
    assert_eq!(session.device_info().model, "Scripted");
    let ops: Vec<u16> = handle.commands().iter().map(|c| c.code).collect();
    assert_eq!(
        ops,
        [OperationCode::GET_DEVICE_INFO.0, OperationCode::OPEN_SESSION.0]
    );

    let (transport, handle) = fake::opening(&info_with(&[]), 64);
    handle.stall_commands(2);
    let err = Session::open(transport)
        .err()
        .expect("a second stall is an error");
    assert!(
        matches!(
            err,
            SessionError::Transport {
                source: TransportError::Stall,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(handle.halts_cleared(), 1);
}

#[test]
fn a_wedged_device_that_never_reads_the_command_is_cancelled_once_at_open() {
    let (transport, handle) = fake::opening(&info_with(&[]), 64);
    handle.ignore_commands(1);
    let session = Session::open(transport).unwrap();
    assert_eq!(handle.halts_cleared(), 1);
    assert_eq!(session.device_info().model, "Scripted");

    let (transport, handle) = fake::opening(&info_with(&[]), 64);
    handle.ignore_commands(2);
    let err = Session::open(transport)
        .err()
        .expect("a second timeout is an error");
    assert!(
        matches!(
            err,
            SessionError::Transport {
                source: TransportError::Timeout(_),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_device_that_wants_a_session_before_device_info_is_opened_the_other_way_round() {
    let garbage = data(OperationCode::GET_DEVICE_INFO, 0, &[0xFF; 7]);
    for first_answer in [
        vec![response(ResponseCode::SESSION_NOT_OPEN, 0, &[])],
        vec![garbage, ok(0, &[])],
    ] {
        let (transport, device) = fake::new(512);
        for phase in first_answer {
            device.push(phase);
        }
        device.push(ok(0, &[])); // OpenSession
        device.push(data(
            OperationCode::GET_DEVICE_INFO,
            1,
            &info_with(&[]).to_bytes(),
        ));
        device.push(ok(1, &[]));
        let session = Session::open(transport).unwrap();
        assert_eq!(session.device_info().model, "Scripted");
        let sent: Vec<_> = device
            .commands()
            .iter()
            .map(|c| (c.code, c.transaction_id))
            .collect();
        assert_eq!(sent, [(0x1001, 0), (0x1002, 0), (0x1001, 1)]);
        assert_eq!(device.unread_phases(), 0);
    }
}

#[test]
fn the_all_objects_answer_is_asked_once_per_session_for_every_storage() {
    let (mut session, device) = open(&[PROP_LIST], 512);
    let internal = object_props(1, 0x10001, 0, "a.jpg", ObjectFormat::EXIF_JPEG, 10);
    let card = object_props(2, 0x20001, 0, "b.jpg", ObjectFormat::EXIF_JPEG, 20);
    device.push(data(PROP_LIST, 1, &prop_list(&[internal, card])));
    device.push(ok(1, &[]));
    let first = session.walk(StorageId(0x10001), None).unwrap();
    let second = session.walk(StorageId(0x20001), None).unwrap();
    assert_eq!(first[0].path(), ["a.jpg"]);
    assert_eq!(second[0].path(), ["b.jpg"]);
    assert_eq!(session.stats().count(PROP_LIST), 1);
    assert_eq!(session.listing_strategy(), Some(ListingStrategy::AllObjects));
}

#[test]
fn an_all_objects_query_that_times_out_is_cancelled_and_the_walk_goes_folder_by_folder() {
    let (mut session, device) = open(&[PROP_LIST], 512);
    // The phone is still walking its filesystem: the answer's read and the
    // drain after Cancel both time out.
    device.time_out_reads(2);
    let photo = object_props(4, 0x10001, 0, "a.jpg", ObjectFormat::EXIF_JPEG, 10);
    device.push(data(PROP_LIST, 2, &prop_list(&[photo])));
    device.push(ok(2, &[]));
    let entries = session.walk(StorageId(0x10001), None).unwrap();
    assert_eq!(entries[0].path(), ["a.jpg"]);
    assert_eq!(device.cancelled(), [1], "the timed-out transaction was cancelled");
    assert_eq!(device.halts_cleared(), 1);
    let queries: Vec<(u32, Vec<u32>)> = device
        .commands()
        .iter()
        .filter(|c| c.code == PROP_LIST.0)
        .map(|c| (c.transaction_id, c.params.clone()))
        .collect();
    assert_eq!(
        queries,
        [(1, vec![ALL, 0, ALL, 0, ALL]), (2, vec![0, 0, ALL, 0, 1])]
    );
    assert_eq!(
        session.listing_strategy(),
        Some(ListingStrategy::PropListPerFolder)
    );
    // The next storage is not asked the slow way again.
    device.push(data(PROP_LIST, 3, &prop_list(&[])));
    device.push(ok(3, &[]));
    assert!(session.walk(StorageId(0x20001), None).unwrap().is_empty());
    assert_eq!(session.stats().count(PROP_LIST), 3);
}

#[test]
fn an_untrusted_iphone_is_waited_for_with_its_own_words() {
    let (mut session, device) = open(&[], 512);
    device.push(data(
        OperationCode::GET_STORAGE_IDS,
        1,
        &u32_array(&[0xFEED_FACE]),
    ));
    device.push(ok(1, &[]));
    // The user taps Trust: the placeholder goes, the real storage comes.
    device.push_event(crate::ptp::Message::event(0x4005u16, 0, &[0xFEED_FACE]).encode());
    device.push_event(crate::ptp::Message::event(0x4004u16, 0, &[0x10001]).encode());
    device.push(data(OperationCode::GET_STORAGE_IDS, 2, &u32_array(&[0x10001])));
    device.push(ok(2, &[]));
    assert!(session.storage_ids().unwrap().is_empty());
    assert!(session.is_untrusted());
    assert!(session.no_storage_hint().contains("tap Trust on the iPhone"));
    assert_eq!(
        session.wait_for_storages(Duration::from_secs(5)).unwrap(),
        [StorageId(0x10001)]
    );
    assert!(!session.is_untrusted());
    assert_eq!(session.no_storage_hint(), LOCKED_HINT);
}

#[test]
fn empty_card_slots_and_unavailable_storages_are_skipped_and_kept_for_the_report() {
    let (mut session, device) = open(&[], 512);
    device.push(data(
        OperationCode::GET_STORAGE_IDS,
        1,
        &u32_array(&[0x10001, 0x20000, 0x30001]),
    ));
    device.push(ok(1, &[]));
    device.push(response(ResponseCode::STORE_NOT_AVAILABLE, 2, &[]));
    assert_eq!(
        session.storage_ids().unwrap(),
        [StorageId(0x10001), StorageId(0x30001)]
    );
    assert_eq!(
        session.storage_info_if_available(StorageId(0x30001)).unwrap(),
        None
    );
    let skipped: Vec<_> = session
        .skipped_storages()
        .iter()
        .map(|s| (s.id, s.reason, s.is_failure()))
        .collect();
    assert_eq!(
        skipped,
        [
            (StorageId(0x20000), unusable::SkipReason::EmptySlot, false),
            (StorageId(0x30001), unusable::SkipReason::NotAvailable, true)
        ]
    );
    // GetStorageInfo was never asked for the empty slot.
    assert_eq!(session.stats().count(OperationCode::GET_STORAGE_INFO), 1);
}
