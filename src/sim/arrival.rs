//! A simulated device as `mtpull watch` and `mtpull auto` see a phone plugged
//! in. Here rather than in `auto`, so that the product's code knows nothing
//! of the simulator.

use super::SimDevice;
use crate::auto::Arrival;
use crate::transport::Transport;

impl SimDevice {
    /// The device as an arrival; each open is a replug ([`SimDevice::connect`]).
    pub fn arrival(&self) -> Arrival {
        let identity = self.identity();
        let device = self.clone();
        Arrival::new(
            format!("sim-{}", identity.usb_serial()),
            format!("{} (simulated)", identity.model),
            Some(identity.usb_serial().to_owned()),
            move || Ok(Box::new(device.connect()) as Box<dyn Transport>),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::{Profile, SimDevice};

    #[test]
    fn a_simulated_arrival_opens_a_fresh_connection_each_time() {
        let phone = SimDevice::new(Profile::Android);
        let arrival = phone.arrival();
        assert_eq!(arrival.id, "sim-SIM-ANDROID");
        assert_eq!(arrival.lock_key(), "SIM-ANDROID");
        let first = arrival.open().unwrap();
        assert!(phone.is_connected());
        drop(first);
        let _second = arrival.clone().open().unwrap();
        assert_eq!(phone.stats().connections, 2);
        assert!(format!("{arrival:?}").contains("SIM-ANDROID"));
    }
}
