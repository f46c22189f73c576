//! Makes sure `web/node_modules` holds the Redoc that `web/package-lock.json` pins before the
//! crate embeds its standalone bundle, so `cargo build` and `sam build` work from a clean clone.
//! When the bundle is missing, or the installed Redoc is not the locked one, this runs `npm ci`
//! in `web/` (with `web/.npmrc`: no peer dependencies, no install scripts).

use std::path::{Path, PathBuf};
use std::process::Command;

const BUNDLE: &str = "node_modules/redoc/bundles/redoc.standalone.js";

fn main() {
    let web = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web");
    for watched in [
        "package.json",
        "package-lock.json",
        ".npmrc",
        "node_modules/redoc/package.json",
        BUNDLE,
    ] {
        println!("cargo:rerun-if-changed=web/{watched}");
    }

    let locked = locked_redoc(&web);
    if installed_redoc(&web).as_deref() != Some(locked.as_str()) {
        npm_ci(&web);
    }
    match installed_redoc(&web) {
        Some(v) if v == locked => {}
        other => fail(&format!(
            "after `npm ci`, {} holds Redoc {} instead of the locked {locked}",
            web.join(BUNDLE).display(),
            other.as_deref().unwrap_or("nothing"),
        )),
    }
}

/// The Redoc version `web/package-lock.json` pins.
fn locked_redoc(web: &Path) -> String {
    let lock = read_json(&web.join("package-lock.json"));
    lock["packages"]["node_modules/redoc"]["version"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| fail("web/package-lock.json pins no `redoc`"))
}

/// The Redoc version in `web/node_modules`, if its bundle is there.
fn installed_redoc(web: &Path) -> Option<String> {
    if !web.join(BUNDLE).is_file() {
        return None;
    }
    let manifest = std::fs::read_to_string(web.join("node_modules/redoc/package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&manifest).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}

fn npm_ci(web: &Path) {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    // npm's output goes to stderr, which cargo keeps (and shows with -vv); stdout is for
    // cargo's directives only.
    let status = Command::new(npm)
        .arg("ci")
        .current_dir(web)
        .stdout(std::io::stderr())
        .status()
        .unwrap_or_else(|e| {
            fail(&format!(
                "could not run `{npm}` ({e}); install Node.js with npm (https://nodejs.org), \
                 or run `npm ci` in {} yourself",
                web.display()
            ))
        });
    if !status.success() {
        fail(&format!(
            "`npm ci` in {} failed ({status}); run it there to see why",
            web.display()
        ));
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| fail(&format!("{} is not JSON: {e}", path.display())))
}

/// Stops the build: cargo fails it on `cargo::error` and shows the message as is.
fn fail(message: &str) -> ! {
    println!("cargo::error=Redoc (the /docs page) comes from npm: {message}");
    std::process::exit(0)
}
