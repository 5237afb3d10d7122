//! `mtpull devices` against each simulator profile.

use crate::run::mtpull;

#[test]
fn the_demo_phone_is_described_with_its_storage() {
    let run = mtpull(&["--demo", "devices"]).expect_status(0);
    for expected in [
        "mtpull Demo Phone",
        "serial:  DEMO0001",
        "1209:4d54, bus 1, port 4",
        "storage: Internal shared storage (0x00010001):",
        "free of 128.00 GB",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} missing from:\n{}",
            run.stdout
        );
    }
}

#[test]
fn every_unlocked_profile_shows_a_storage() {
    for profile in ["android", "samsung", "ptp-camera", "qemu"] {
        let run = mtpull(&["--sim", profile, "devices"]).expect_status(0);
        assert!(
            run.stdout.contains("storage: Internal shared storage"),
            "{profile}:\n{}",
            run.stdout
        );
    }
}

#[test]
fn a_locked_phone_gets_the_reason_and_the_fix() {
    let run = mtpull(&["--sim", "locked", "devices"]).expect_status(3);
    assert!(run.stdout.contains("storage: none"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("unlock it and pick \"File transfer\" in the USB notification"),
        "{}",
        run.stdout
    );
}

#[test]
fn verbose_prints_the_transaction_count() {
    let run = mtpull(&["--demo", "-v", "devices"]).expect_status(0);
    assert!(
        run.stderr
            .contains("transactions (GetDeviceInfo 1, OpenSession 1"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_profile_is_a_usage_error() {
    let run = mtpull(&["--sim", "toaster", "devices"]).expect_status(2);
    assert!(run.stderr.contains("unknown device profile"), "{}", run.stderr);
}

#[test]
fn a_device_that_is_not_there_is_one_message_and_exit_3() {
    let run = mtpull(&["--device", "XYZ", "devices"]).expect_status(3);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn the_demo_phone_answers_to_the_serial_devices_shows() {
    for serial in ["DEMO0001", "demo0001", "demo"] {
        let run = mtpull(&["--device", serial, "devices"]).expect_status(0);
        assert!(
            run.stdout.contains("serial:  DEMO0001"),
            "{serial}: {}",
            run.stdout
        );
    }
    // Both at once is fine as long as they agree.
    mtpull(&["--demo", "--device", "DEMO0001", "devices"]).expect_status(0);
}

#[test]
fn demo_with_another_device_is_refused_not_ignored() {
    let run = mtpull(&["--demo", "--device", "XYZ", "devices"]).expect_status(2);
    assert!(run.stderr.contains("\"XYZ\""), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn json_is_one_object_per_device_with_its_storages() {
    let run = mtpull(&["--demo", "devices", "--json"]).expect_status(0);
    let devices: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(devices.len(), 1, "{}", run.stdout);
    let phone = &devices[0];
    assert_eq!(phone["serial"], "DEMO0001");
    assert_eq!(
        (phone["vendor_id"].as_str(), phone["product_id"].as_str()),
        (Some("1209"), Some("4d54"))
    );
    let storage = &phone["storages"][0];
    assert_eq!(storage["id"], "0x00010001");
    assert_eq!(storage["name"], "Internal shared storage");
    assert_eq!(storage["capacity_bytes"], 128_000_000_000u64);
    assert!(storage["free_bytes"].as_u64().unwrap() < 128_000_000_000);
    assert_eq!(phone["no_storage"], serde_json::Value::Null);

    let locked = mtpull(&["--sim", "locked", "devices", "--json"]).expect_status(3);
    let locked: serde_json::Value = serde_json::from_str(locked.stdout.trim()).unwrap();
    assert_eq!(locked["storages"], serde_json::json!([]));
    assert!(
        locked["no_storage"].as_str().unwrap().contains("File transfer"),
        "{locked}"
    );
}
