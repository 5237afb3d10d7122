//! The preview page in a real browser: headless Chromium (Debian's
//! `chromium`) opens a page made from the demo phone, shows real
//! thumbnails (screenshot), a picture is unticked with a mouse click, and
//! *Save selection* downloads the file `backup --selection` reads.
//!
//! Chromium is driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: commands on fd 3, answers on fd 4, each a JSON
//! text ended by NUL), which the shell maps to the child's stdin and stdout.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Browser {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next_id: u64,
    session: Option<String>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts headless Chromium, or `None` when it is not installed.
    fn start(profile: &Path) -> Option<Browser> {
        let chromium = ["chromium", "chromium-browser"].into_iter().find(|name| {
            Command::new("sh")
                .args(["-c", &format!("command -v {name}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })?;
        let script = format!(
            "exec {chromium} --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,800 \
             --user-data-dir='{}' --remote-debugging-pipe 3<&0 4>&1 0</dev/null 1>/dev/null 2>/dev/null",
            profile.display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let input = child.stdin.take()?;
        let output = BufReader::new(child.stdout.take()?);
        Some(Browser {
            child,
            input,
            output,
            next_id: 0,
            session: None,
        })
    }

    /// Sends one command and waits for its answer (events in between are skipped).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let mut message = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        self.input.write_all(&bytes).unwrap();
        self.input.flush().unwrap();
        loop {
            let mut reply = Vec::new();
            let n = self.output.read_until(0, &mut reply).unwrap();
            assert!(n > 0, "chromium closed the pipe during {method}");
            reply.pop();
            let reply: Value = serde_json::from_slice(&reply).unwrap();
            if reply["id"] == json!(self.next_id) {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
    }

    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        result["result"]["value"].clone()
    }

    fn wait_for(&mut self, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let value = self.eval(expression);
            if value.as_bool() != Some(false) && !value.is_null() {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A left click in the middle of the element `selector` finds.
    fn click(&mut self, selector: &str) {
        let rect = self.eval(&format!(
            "(() => {{ const r = document.querySelector({selector:?}).getBoundingClientRect(); \
             return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        let (x, y) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }
}

#[test]
fn the_page_shows_thumbnails_and_saves_what_a_click_chose() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("preview.html");
    // The demo phone, unpaced: its camera photos carry real EXIF thumbnails.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_mtpull"))
        .args(["--demo", "preview", "-o", page.to_str().unwrap()])
        .env("MTPULL_DEMO_PACE", "off")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let Some(mut browser) = Browser::start(&dir.path().join("profile")) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is missing (scripts/install-deps.sh installs it)"
        );
        eprintln!("SKIPPED: chromium is not installed");
        return;
    };
    let downloads = dir.path().join("downloads");
    fs::create_dir_all(&downloads).unwrap();
    browser.call(
        "Browser.setDownloadBehavior",
        json!({"behavior": "allow", "downloadPath": downloads.to_str().unwrap()}),
    );
    let url = format!("file://{}", page.display());
    let target = browser.call("Target.createTarget", json!({"url": url}));
    let attached = browser.call(
        "Target.attachToTarget",
        json!({"targetId": target["targetId"], "flatten": true}),
    );
    browser.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
    // Real thumbnails: images in view, decoded, 160 pixels wide as the phone made them.
    let widths = browser.wait_for(
        "thumbnails to load",
        "(() => { const w = Array.from(document.querySelectorAll('img.thumb')).filter(i => i.complete && i.naturalWidth > 0).map(i => i.naturalWidth); return w.length >= 5 ? w : false; })()",
    );
    assert!(widths.as_array().unwrap().iter().all(|w| w == 160), "{widths}");
    let shot = browser.call("Page.captureScreenshot", json!({"format": "png"}));
    let png = base64_decode(shot["data"].as_str().unwrap());
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    fs::write(dir.path().join("screenshot.png"), &png).unwrap();

    // Untick the first picture with the mouse, then save.
    let path = browser.eval("document.querySelector('label.card').dataset.path");
    browser.click("label.card input[type=checkbox]");
    let ticked = browser.eval("document.querySelector('label.card input').checked");
    assert_eq!(ticked, json!(false), "the click did not untick the picture");
    browser.click("#save");
    let saved = downloads.join("mtpull-selection.json");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !saved.exists() {
        assert!(Instant::now() < deadline, "no selection file was downloaded");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let selection: Value = serde_json::from_str(&fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(selection["format"], "mtpull-selection/1");
    assert_eq!(selection["device"], "DEMO0001");
    let rejected: Vec<&Value> = selection["rejected"].as_array().unwrap().iter().collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["path"], path);
    let chosen = selection["chosen"].as_array().unwrap();
    assert!(chosen.len() > 300 && chosen.iter().all(|c| c["path"] != path));
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}
