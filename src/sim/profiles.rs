//! Whose rules a simulated device follows: the profiles, what each answers
//! (operations, events, formats, object properties), how its USB link behaves
//! ([`Quirks`]) and how long it takes ([`Timing`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::ptp::{EventCode, ObjectFormat, OperationCode as Op, PropertyCode as Prop};

/// How the simulated device behaves: whose rules it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Android's MTP server (AOSP MtpServer + MtpFfsHandle): GetObjectPropList
    /// (depth 0/1, or every object with handle and depth 0xFFFFFFFF),
    /// GetPartialObject64, no DateCreated property, zero-length packets, an
    /// abandoned transfer wedges the server until Cancel or a bus reset, and
    /// the class reset 0x66 kills the server until replug.
    Android,
    /// Android with the screen locked: no storage until [`super::SimDevice::unlock`],
    /// which sends StoreAdded to an open session.
    Locked,
    /// A Samsung Galaxy: Android, plus Samsung's own MTP stack's quirks — a
    /// GetPartialObject that reaches the end of the file with
    /// (length + 12) % 512 == 0 hangs, and GetObjectPropList on handle 0 (the
    /// root) is refused while folders work.
    Samsung,
    /// A PTP-only camera: no object property operations, no 64-bit partial
    /// reads; listing is GetObjectHandles + GetObjectInfo only; Device Busy
    /// after a Cancel until Get Device Status is polled (SIC).
    PtpCamera,
    /// QEMU's usb-mtp: no property lists, no GetThumb, every file's format
    /// "Undefined", no ObjectFileName property, no zero-length packets, no
    /// answer to Get Device Status.
    Qemu,
    /// An iPhone (PTP with Apple's ways): until [`super::SimDevice::trust`] it
    /// lists only the placeholder storage 0xFEEDFACE, then sends StoreRemoved
    /// and StoreAdded; DCIM/1xxAPPLE folders with HEIC, MOV and AAE files; the
    /// data header as its own short transfer (as when it converts HEIC).
    IPhone,
    /// A camera that breaks the rules PTP cameras are known to break: it
    /// ignores GetObjectHandles' parent filter for the root (every object, as
    /// Fuji does), lists a folder inside itself (Canon EOS), shows an empty
    /// card slot (storage id 0xNNNN0000), answers GetDeviceInfo only inside a
    /// session, and stays Device Busy after a Cancel until Get Device Status
    /// is polled.
    CameraQuirky,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 7] = [
        Profile::Android,
        Profile::Locked,
        Profile::Samsung,
        Profile::PtpCamera,
        Profile::Qemu,
        Profile::IPhone,
        Profile::CameraQuirky,
    ];

    /// The profile's name, as `FromStr` reads it ("android", "ptp-camera"…).
    pub fn name(self) -> &'static str {
        match self {
            Profile::Android => "android",
            Profile::Locked => "locked",
            Profile::Samsung => "samsung",
            Profile::PtpCamera => "ptp-camera",
            Profile::Qemu => "qemu",
            Profile::IPhone => "iphone",
            Profile::CameraQuirky => "camera-quirky",
        }
    }

    /// Whether the device runs Android's MTP server (and its rules).
    pub fn is_android(self) -> bool {
        matches!(self, Profile::Android | Profile::Locked | Profile::Samsung)
    }

    /// The model string and USB product id of the profile's simulated identity.
    pub(crate) fn model_and_product(self) -> (&'static str, u16) {
        match self {
            Profile::Android => ("Simulated Android phone", 0x0001),
            Profile::Locked => ("Simulated locked phone", 0x0002),
            Profile::Samsung => ("Simulated Samsung phone", 0x0003),
            Profile::PtpCamera => ("Simulated camera", 0x0004),
            Profile::Qemu => ("QEMU filesharing", 0x0005),
            Profile::IPhone => ("Simulated iPhone", 0x0006),
            Profile::CameraQuirky => ("Simulated quirky camera", 0x0007),
        }
    }

    /// How the profile's USB link and server misbehave.
    pub fn quirks(self) -> Quirks {
        let android = Quirks {
            zero_length_packets: true,
            wedge_on_abandon: true,
            reset_kills_server: true,
            ffs_device_status: true,
            ..Quirks::default()
        };
        match self {
            Profile::Android | Profile::Locked => android,
            Profile::Samsung => Quirks {
                partial_read_eof_hang: true,
                refuse_root_prop_list: true,
                ..android
            },
            Profile::PtpCamera => Quirks {
                zero_length_packets: true,
                busy_after_cancel: true,
                ..Quirks::default()
            },
            Profile::Qemu => Quirks {
                no_device_status: true,
                qemu_uploads: true,
                ..Quirks::default()
            },
            Profile::IPhone => Quirks {
                zero_length_packets: true,
                split_header: true,
                ..Quirks::default()
            },
            Profile::CameraQuirky => Quirks {
                zero_length_packets: true,
                busy_after_cancel: true,
                device_info_needs_session: true,
                root_lists_every_object: true,
                folder_lists_itself: true,
                empty_card_slot: true,
                ..Quirks::default()
            },
        }
    }

    /// The profile's time model at scale 1 (see [`Timing`]).
    pub fn timing(self) -> Timing {
        match self {
            // Android walks its database (and, from Android 9, the file system) for
            // a whole-storage query; a depth-1 list asks MediaProvider per file.
            Profile::Android | Profile::Locked | Profile::Samsung => Timing {
                per_transaction: Duration::from_micros(300),
                per_object: Duration::from_micros(150),
                scale: 1.0,
            },
            Profile::PtpCamera | Profile::CameraQuirky | Profile::IPhone => Timing {
                per_transaction: Duration::from_millis(2),
                per_object: Duration::from_micros(50),
                scale: 1.0,
            },
            Profile::Qemu => Timing {
                per_transaction: Duration::from_micros(200),
                per_object: Duration::from_micros(20),
                scale: 1.0,
            },
        }
    }

    /// The object properties the profile reports, in its order.
    pub(crate) fn object_props(self) -> &'static [Prop] {
        match self {
            Profile::Android | Profile::Locked | Profile::Samsung => ANDROID_PROPS,
            Profile::Qemu => QEMU_PROPS,
            Profile::PtpCamera | Profile::IPhone | Profile::CameraQuirky => &[],
        }
    }

    /// The operations this profile's DeviceInfo lists and its responder answers.
    pub fn operations(self) -> &'static [Op] {
        // What every profile answers: the session and the listing.
        const SESSION_AND_LISTING: [Op; 8] = [
            Op::GET_DEVICE_INFO,
            Op::OPEN_SESSION,
            Op::CLOSE_SESSION,
            Op::GET_STORAGE_IDS,
            Op::GET_STORAGE_INFO,
            Op::GET_NUM_OBJECTS,
            Op::GET_OBJECT_HANDLES,
            Op::GET_OBJECT_INFO,
        ];
        const PTP_CORE: [Op; 13] = concat_ops(
            SESSION_AND_LISTING,
            [
                Op::GET_OBJECT,
                Op::GET_THUMB,
                Op::DELETE_OBJECT,
                Op::SEND_OBJECT_INFO,
                Op::SEND_OBJECT,
            ],
        );
        const ANDROID: [Op; 19] = concat_ops(
            PTP_CORE,
            [
                Op::GET_PARTIAL_OBJECT,
                Op::GET_OBJECT_PROPS_SUPPORTED,
                Op::GET_OBJECT_PROP_DESC,
                Op::GET_OBJECT_PROP_VALUE,
                Op::GET_OBJECT_PROP_LIST,
                Op::GET_PARTIAL_OBJECT_64,
            ],
        );
        const CAMERA: [Op; 11] = concat_ops(
            SESSION_AND_LISTING,
            [Op::GET_OBJECT, Op::GET_THUMB, Op::GET_PARTIAL_OBJECT],
        );
        // QEMU's usb-mtp: no GetThumb, no property lists, no 64-bit partial reads.
        const QEMU: [Op; 16] = concat_ops(
            SESSION_AND_LISTING,
            [
                Op::DELETE_OBJECT,
                Op::SEND_OBJECT_INFO,
                Op::SEND_OBJECT,
                Op::GET_OBJECT,
                Op::GET_PARTIAL_OBJECT,
                Op::GET_OBJECT_PROPS_SUPPORTED,
                Op::GET_OBJECT_PROP_DESC,
                Op::GET_OBJECT_PROP_VALUE,
            ],
        );
        match self {
            Profile::Android | Profile::Locked | Profile::Samsung => &ANDROID,
            Profile::PtpCamera | Profile::IPhone | Profile::CameraQuirky => &CAMERA,
            Profile::Qemu => &QEMU,
        }
    }

    pub(crate) fn supports(self, op: Op) -> bool {
        self.operations().contains(&op)
    }

    pub(crate) fn events(self) -> &'static [EventCode] {
        use EventCode as E;
        match self {
            Profile::Qemu => &[E::OBJECT_ADDED, E::OBJECT_REMOVED, E::OBJECT_INFO_CHANGED],
            _ => &[
                E::OBJECT_ADDED,
                E::OBJECT_REMOVED,
                E::STORE_ADDED,
                E::STORE_REMOVED,
                E::OBJECT_INFO_CHANGED,
            ],
        }
    }

    pub(crate) fn formats(self) -> &'static [ObjectFormat] {
        use ObjectFormat as F;
        match self {
            Profile::Qemu => &[F::UNDEFINED, F::ASSOCIATION],
            Profile::PtpCamera | Profile::CameraQuirky => &[F::ASSOCIATION, F::EXIF_JPEG, F::MP4_CONTAINER],
            Profile::IPhone => &[
                F::UNDEFINED,
                F::ASSOCIATION,
                F::EXIF_JPEG,
                F::HEIF,
                F::MP4_CONTAINER,
            ],
            _ => &[
                F::UNDEFINED,
                F::ASSOCIATION,
                F::TEXT,
                F::HTML,
                F::WAV,
                F::MP3,
                F::AVI,
                F::EXIF_JPEG,
                F::BMP,
                F::GIF,
                F::PNG,
                F::TIFF,
                F::DNG,
                F::HEIF,
                F::AAC,
                F::OGG,
                F::FLAC,
                F::MP4_CONTAINER,
                F::CONTAINER_3GP,
            ],
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(name: &str) -> Result<Profile, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
                format!("unknown device profile {name:?} (known: {})", names.join(", "))
            })
    }
}

/// What a device does that the specifications do not say, one switch each.
/// [`Profile::quirks`] gives a profile's set; [`super::SimConfig::quirks`]
/// changes it for one device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// An IN phase that fills its last packet is followed by a zero-length
    /// packet (Android, most devices; not QEMU's usb-mtp).
    pub zero_length_packets: bool,
    /// Data containers go out with the 12-byte header as its own short
    /// transfer, the payload after it (iPhones converting HEIC, Garmin, old
    /// Android; libgphoto2 calls it split header data).
    pub split_header: bool,
    /// A client that goes away mid-phase leaves the server stuck writing the
    /// rest: the next client's command is NAKed and its reads get the stale
    /// data, until the class Cancel request or a bus reset (MtpFfsHandle).
    pub wedge_on_abandon: bool,
    /// The class reset request 0x66 kills the MTP server until replug.
    pub reset_kills_server: bool,
    /// Get Device Status answered as MtpFfsHandle does: wLength 8 when OK;
    /// after the device cancelled a transfer itself, 0x201F with the two
    /// halted endpoints packed as 16-bit values.
    pub ffs_device_status: bool,
    /// Get Device Status gets no answer (QEMU's usb-mtp).
    pub no_device_status: bool,
    /// After a Cancel, every command is answered Device Busy until Get Device
    /// Status has been polled (SIC cameras).
    pub busy_after_cancel: bool,
    /// A GetPartialObject(64) that reaches the end of the file with
    /// (length + 12) % 512 == 0 never sends its data (libmtp's
    /// SAMSUNG_OFFSET_BUG).
    pub partial_read_eof_hang: bool,
    /// GetObjectPropList on handle 0 (the root) is refused; folders work.
    pub refuse_root_prop_list: bool,
    /// GetPartialObject64 reads its parameters as GetPartialObject's
    /// (handle, 32-bit offset, length): a request laid out as AOSP's gets
    /// 0 bytes.
    pub partial64_as_partial: bool,
    /// GetPartialObject and GetPartialObject64 send no data at all (a broken
    /// responder that lists them).
    pub partial_reads_empty: bool,
    /// GetObject of a video sends a transcoded file whose length differs from
    /// the listed size (Android's "convert videos to AVC"); partial reads send
    /// the original.
    pub transcode_videos: bool,
    /// GetDeviceInfo outside a session is answered Session Not Open.
    pub device_info_needs_session: bool,
    /// GetObjectHandles for a storage's root answers every object on it, at
    /// any depth (Fuji ignores the parent filter).
    pub root_lists_every_object: bool,
    /// GetObjectHandles for a folder lists the folder itself among its
    /// children (Canon EOS).
    pub folder_lists_itself: bool,
    /// GetStorageIDs also lists an empty card slot: a storage id whose low
    /// 16 bits are 0, with no storage behind it.
    pub empty_card_slot: bool,
    /// Uploads taken as QEMU's usb-mtp takes them: a SendObject data phase
    /// ends only with a host transfer whose length is not a multiple of 64
    /// bytes (when 12 + size is one, it never ends: the zero-length packet is
    /// stalled, and so is the read of the response), and the file is written
    /// in 512 KiB pieces as they fill, so an upload cut short leaves the
    /// pieces written so far on the device (see [`qemu_written`]).
    pub qemu_uploads: bool,
}

/// QEMU's usb-mtp buffers an upload in 512 KiB pieces (the first 12 bytes
/// short, the container header's room) and writes each when it is full; a
/// file smaller than that is one piece of its own size. Of `received` bytes of
/// a `size`-byte upload, the bytes on its disk, or `None` when no piece was
/// full yet (the file was never created).
pub(crate) fn qemu_written(received: u64, size: u64) -> Option<u64> {
    const PIECE: u64 = 512 * 1024;
    const FIRST: u64 = PIECE - 12;
    if size < PIECE {
        return (received >= size).then_some(size);
    }
    (received >= FIRST).then(|| FIRST + (received - FIRST) / PIECE * PIECE)
}

/// How long the device takes before the first byte of an answer, counted
/// from the command's arrival: a fixed cost per transaction and a cost per
/// object the query touches (a whole-storage listing touches every object),
/// times `scale`. The simulator builds its answer within that time, as a
/// phone does; only when building takes longer than the model does the
/// answer come later. Deterministic; scale 0 answers at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Every transaction.
    pub per_transaction: Duration,
    /// Every object a listing walks.
    pub per_object: Duration,
    /// Multiplies both (0 for instant answers, 1 for the profile's own).
    pub scale: f64,
}

impl Timing {
    /// No delay at all.
    pub const INSTANT: Timing = Timing {
        per_transaction: Duration::ZERO,
        per_object: Duration::ZERO,
        scale: 0.0,
    };

    /// The first-byte delay of a transaction that touched `objects` objects.
    pub fn first_byte_delay(&self, objects: u64) -> Duration {
        let objects = u32::try_from(objects).unwrap_or(u32::MAX);
        let base = self.per_transaction + self.per_object.saturating_mul(objects);
        if self.scale <= 0.0 {
            Duration::ZERO
        } else {
            base.mul_f64(self.scale)
        }
    }
}

/// The properties Android reports for every object, in its order (AOSP's
/// MtpDatabase: no DateCreated; DateAdded is Android's own).
const ANDROID_PROPS: &[Prop] = &[
    Prop::STORAGE_ID,
    Prop::OBJECT_FORMAT,
    Prop::PROTECTION_STATUS,
    Prop::OBJECT_SIZE,
    Prop::OBJECT_FILE_NAME,
    Prop::DATE_MODIFIED,
    Prop::PARENT_OBJECT,
    Prop::PERSISTENT_UNIQUE_OBJECT_IDENTIFIER,
    Prop::NAME,
    Prop::DATE_ADDED,
];

/// QEMU's usb-mtp: no file name property, which is why some tools fail on it.
const QEMU_PROPS: &[Prop] = &[
    Prop::STORAGE_ID,
    Prop::OBJECT_FORMAT,
    Prop::OBJECT_SIZE,
    Prop::PARENT_OBJECT,
    Prop::PERSISTENT_UNIQUE_OBJECT_IDENTIFIER,
    Prop::NAME,
];

const fn concat_ops<const A: usize, const B: usize, const C: usize>(a: [Op; A], b: [Op; B]) -> [Op; C] {
    let mut out = [Op(0); C];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < C {
        out[i] = b[i - A];
        i += 1;
    }
    out
}
