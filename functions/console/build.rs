//! Builds what the console function embeds, so that `cargo build` and `sam build` work from a
//! clean clone:
//! 1. `npm ci` in `web/` when `web/node_modules` was not installed from the current
//!    `web/package-lock.json` (with `web/.npmrc`: no peer dependencies, no install scripts);
//! 2. `npm run build` there: the API client's types from `infra/openapi.json`, the type check,
//!    the Vite bundle (into `OUT_DIR/web`) and the size budget;
//! 3. `OUT_DIR/web_assets.rs`: every built file as `(path, include_bytes!(...))`, and Redoc's
//!    standalone bundle for `/docs`.

use std::path::{Path, PathBuf};
use std::process::Command;

const REDOC: &str = "node_modules/redoc/bundles/redoc.standalone.js";
/// Written after a successful `npm ci`: the lockfile it installed.
const INSTALLED_LOCK: &str = "node_modules/.latchkey-installed-lock.json";

fn main() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let web = crate_dir.join("web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("web");
    // The app's inputs. Not web/generated/ (written by the build itself); of node_modules/, one
    // file that npm unpacks with a fixed old mtime, so that deleting the folder reruns this.
    for watched in [
        "web/src",
        "web/index.html",
        "web/vite.config.ts",
        "web/tsconfig.json",
        "web/package.json",
        "web/package-lock.json",
        "web/.npmrc",
        "web/scripts",
        "web/node_modules/redoc/package.json",
        "../../infra/openapi.json",
    ] {
        println!("cargo:rerun-if-changed={watched}");
    }

    let lock = read(&web.join("package-lock.json"));
    if !web.join(REDOC).is_file()
        || std::fs::read(web.join(INSTALLED_LOCK)).ok().as_deref() != Some(lock.as_slice())
    {
        npm(&web, &["ci"], None);
        std::fs::write(web.join(INSTALLED_LOCK), &lock)
            .unwrap_or_else(|e| fail(&format!("cannot write {INSTALLED_LOCK}: {e}")));
    }
    npm(&web, &["run", "build"], Some(&out));

    let mut files = Vec::new();
    collect(&out, &out, &mut files);
    files.sort();
    if !files.iter().any(|(path, _)| path == "index.html") {
        fail("the Vite build wrote no index.html");
    }
    let entries: String = files
        .iter()
        .map(|(path, file)| format!("    ({path:?}, include_bytes!({:?})),\n", file.display()))
        .collect();
    let generated = format!(
        "/// The console's built files, by path under the API's root.\n\
         pub static FILES: &[(&str, &[u8])] = &[\n{entries}];\n\
         /// Redoc's standalone bundle (`/docs`).\n\
         pub static REDOC: &[u8] = include_bytes!({:?});\n",
        web.join(REDOC).display()
    );
    let target = out
        .parent()
        .expect("OUT_DIR/web has a parent")
        .join("web_assets.rs");
    std::fs::write(&target, generated)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", target.display())));
}

/// Every file under `dir`, as (path relative to `root` with `/`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| fail(&format!("cannot list {}: {e}", dir.display())));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push((relative, path));
        }
    }
}

/// Runs `npm args…` in `web/`; `out` is where the Vite build writes.
fn npm(web: &Path, args: &[&str], out: Option<&Path>) {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let mut command = Command::new(npm);
    command.args(args).current_dir(web);
    if let Some(out) = out {
        command.env("LATCHKEY_WEB_OUT", out);
    }
    // npm's output goes to stderr, which cargo keeps (and shows with -vv or on failure);
    // stdout is for cargo's directives only.
    let status = command
        .stdout(std::io::stderr())
        .status()
        .unwrap_or_else(|e| {
            fail(&format!(
                "could not run `{npm}` ({e}); install Node.js 20 or later with npm"
            ))
        });
    if !status.success() {
        fail(&format!(
            "`npm {}` in {} failed ({status}); run it there to see why",
            args.join(" "),
            web.display()
        ));
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())))
}

/// Stops the build: cargo fails it on `cargo::error` and shows the message as is.
fn fail(message: &str) -> ! {
    println!("cargo::error=the console's web assets: {message}");
    std::process::exit(0)
}
