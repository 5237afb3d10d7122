//! What Android's MTP view shows that is not the user's photos and videos.
//!
//! Android's MTP server shows the raw filesystem (AOSP MtpStorageManager
//! lists directories as they are), so a backup also sees:
//! - `.trashed-<time>-<name>`: files in the 30-day trash (MediaStore's
//!   IS_TRASHED), which the Gallery no longer shows;
//! - `.pending-<time>-<name>`: files still being written (a recording in
//!   progress), growing while they are read;
//! - `.thumbnails` folders (`DCIM/.thumbnails`, `Pictures/.thumbnails`):
//!   MediaStore's cached thumbnails;
//! - `Android/data` and `Android/obb`: apps' private files and caches
//!   (Android 11+ hides them, older versions show them).
//!
//! A backup skips them unless asked (`--include-junk`) and counts what it skipped.

/// Whether the path (inside its storage, `/`-separated) is one of those.
pub(super) fn is_junk(path: &str) -> bool {
    let mut components = path.split('/').filter(|c| !c.is_empty());
    let first_two = (components.next(), components.next());
    if let (Some(top), Some(below)) = first_two {
        let app_area = below.eq_ignore_ascii_case("data") || below.eq_ignore_ascii_case("obb");
        if top.eq_ignore_ascii_case("Android") && app_area {
            return true;
        }
    }
    path.split('/').any(|component| {
        component.starts_with(".trashed-")
            || component.starts_with(".pending-")
            || component.eq_ignore_ascii_case(".thumbnails")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trash_pending_thumbnails_and_app_data_are_junk() {
        for junk in [
            "DCIM/Camera/.trashed-1717000000-IMG_20240526_101500.jpg",
            "Movies/.pending-1717000000-VID_20240526_101500.mp4",
            "DCIM/.thumbnails/1717000000.jpg",
            "Pictures/.thumbnails/42.jpg",
            "Android/data/com.whatsapp/cache/x.jpg",
            "android/OBB/com.game/main.obb",
        ] {
            assert!(is_junk(junk), "{junk}");
        }
        for kept in [
            "DCIM/Camera/IMG_20240526_101500.jpg",
            "Android/media/com.whatsapp/WhatsApp/Media/IMG-20240526-WA0001.jpg",
            "Pictures/trashed-but-not-really.jpg",
            "Download/data/photo.jpg",
            "Android",
            "DCIM/Camera/.hidden.jpg",
        ] {
            assert!(!is_junk(kept), "{kept}");
        }
    }
}
