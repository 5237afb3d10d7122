//! Property tests: arbitrary bytes never panic a decoder, and every dataset
//! survives an encode/decode round trip.

use proptest::prelude::*;

use super::*;
use crate::ptp::time::parse_ptp_time;

/// Strings as devices send them: any text up to the 254 units a count byte allows.
fn ptp_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>().prop_filter("no NUL", |c| *c != '\0'), 0..40)
        .prop_map(|chars| chars.into_iter().collect())
}

fn codes<T: From<u16> + std::fmt::Debug>() -> impl Strategy<Value = Vec<T>> {
    proptest::collection::vec(any::<u16>().prop_map(T::from), 0..20)
}

prop_compose! {
    fn device_info()(
        (standard_version, vendor_extension_id, vendor_extension_version) in (any::<u16>(), any::<u32>(), any::<u16>()),
        vendor_extension_desc in ptp_string(),
        functional_mode in any::<u16>(),
        operations_supported in codes(),
        events_supported in codes(),
        device_properties_supported in proptest::collection::vec(any::<u16>(), 0..10),
        capture_formats in codes(),
        playback_formats in codes(),
        names in (ptp_string(), ptp_string(), ptp_string(), ptp_string()),
    ) -> DeviceInfo {
        DeviceInfo {
            standard_version, vendor_extension_id, vendor_extension_version, vendor_extension_desc,
            functional_mode, operations_supported, events_supported, device_properties_supported,
            capture_formats, playback_formats,
            manufacturer: names.0, model: names.1, device_version: names.2, serial_number: names.3,
        }
    }
}

prop_compose! {
    fn object_info()(
        ids in (any::<u32>(), any::<u16>(), any::<u16>(), any::<u32>(), any::<u16>()),
        dims in proptest::array::uniform7(any::<u32>()),
        assoc in (any::<u16>(), any::<u32>(), any::<u32>()),
        strings in (ptp_string(), ptp_string(), ptp_string(), ptp_string()),
    ) -> ObjectInfo {
        ObjectInfo {
            storage_id: ids.0, format: ObjectFormat(ids.1), protection_status: ids.2,
            compressed_size: ids.3, thumb_format: ObjectFormat(ids.4),
            thumb_compressed_size: dims[0], thumb_pix_width: dims[1], thumb_pix_height: dims[2],
            image_pix_width: dims[3], image_pix_height: dims[4], image_bit_depth: dims[5], parent: dims[6],
            association_type: assoc.0, association_desc: assoc.1, sequence_number: assoc.2,
            filename: strings.0, date_created: strings.1, date_modified: strings.2, keywords: strings.3,
        }
    }
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u8>().prop_map(|v| Value::Int(DataType::UINT8, v.into())),
        any::<u16>().prop_map(|v| Value::Int(DataType::INT16, v.into())),
        any::<u32>().prop_map(|v| Value::Int(DataType::UINT32, v.into())),
        any::<u64>().prop_map(|v| Value::Int(DataType::UINT64, v.into())),
        any::<u128>().prop_map(|v| Value::Int(DataType::UINT128, v)),
        proptest::collection::vec(any::<u16>().prop_map(u128::from), 0..8)
            .prop_map(|v| Value::Array(DataType::UINT16.array_of(), v)),
        ptp_string().prop_map(Value::Str),
    ]
}

fn prop_list() -> impl Strategy<Value = ObjectPropList> {
    proptest::collection::vec((any::<u32>(), any::<u16>(), value()), 0..30).prop_map(|items| ObjectPropList {
        entries: items
            .into_iter()
            .map(|(handle, code, value)| PropListEntry {
                handle,
                property: PropertyCode(code),
                value,
            })
            .collect(),
    })
}

proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Header::decode(&bytes);
        let _ = Message::decode(&bytes);
        let _ = DeviceInfo::decode(&bytes);
        let _ = StorageInfo::decode(&bytes);
        let _ = ObjectInfo::decode(&bytes);
        let _ = ObjectPropList::decode(&bytes);
        let _ = ObjectPropDesc::decode(&bytes);
        let _ = parse_ptp_time(&String::from_utf8_lossy(&bytes));
        if let Some((first, rest)) = bytes.split_first() {
            let _ = Value::read(&mut Reader::new(rest), DataType(u16::from(*first) | (u16::from(*first) << 8)));
        }
    }

    /// Any units at all (lone surrogates, NULs, ASCII beside them) read as the
    /// standard library's lossy decoding of what comes before the first NUL.
    #[test]
    fn strings_read_as_lossy_utf16_up_to_the_nul(units in proptest::collection::vec(
        prop_oneof![0u16..0x80, any::<u16>(), 0xD800u16..0xE000, Just(0u16)], 0..=255)) {
        let mut bytes = vec![units.len() as u8];
        bytes.extend(units.iter().flat_map(|u| u.to_le_bytes()));
        let text = units.iter().position(|&u| u == 0).map_or(&units[..], |nul| &units[..nul]);
        let text = &text[..text.len().min(MAX_STRING_UNITS)];
        prop_assert_eq!(Reader::new(&bytes).string("s").unwrap(), String::from_utf16_lossy(text));
    }

    #[test]
    fn device_info_round_trips(info in device_info()) {
        prop_assert_eq!(DeviceInfo::decode(&info.to_bytes()).unwrap(), info);
    }

    #[test]
    fn object_info_round_trips(info in object_info()) {
        prop_assert_eq!(ObjectInfo::decode(&info.to_bytes()).unwrap(), info);
    }

    #[test]
    fn prop_list_round_trips(list in prop_list()) {
        prop_assert_eq!(ObjectPropList::decode(&list.to_bytes()).unwrap(), list);
    }

    #[test]
    fn messages_round_trip(kind in 0..3usize, code in any::<u16>(), tid in any::<u32>(),
                           params in proptest::collection::vec(any::<u32>(), 0..=5)) {
        let build = [Message::command, Message::response, Message::event][kind];
        let message = build(code, tid, &params);
        prop_assert_eq!(Message::decode(&message.encode()).unwrap(), message);
    }

    #[test]
    fn storage_info_round_trips(fields in (any::<u16>(), any::<u16>(), any::<u16>(), any::<u64>(), any::<u64>(), any::<u32>()),
                                description in ptp_string(), volume_label in ptp_string()) {
        let info = StorageInfo {
            storage_type: fields.0, filesystem_type: fields.1, access_capability: fields.2,
            max_capacity: fields.3, free_space_bytes: fields.4, free_space_objects: fields.5,
            description, volume_label,
        };
        prop_assert_eq!(StorageInfo::decode(&info.to_bytes()).unwrap(), info);
    }
}
