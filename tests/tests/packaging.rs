//! What the Debian package ships besides the binaries, checked against the
//! binaries: the man pages and completion scripts are what `mld` and
//! `mldctl` generate from their own clap definitions (so they cannot drift
//! from the flags), bash/zsh/fish load the scripts, `man` renders the pages,
//! and the packaged configuration is valid, commented examples included.
//!
//! `MLD_UPDATE_PACKAGING=1 cargo test -p mld-tests --test packaging`
//! rewrites `daemon/debian/{man,completions}` from the binaries.

use mld_tests::process::bin;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn debian_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../daemon/debian")
}

fn run(program: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Every generated file, by its path under `daemon/debian`.
fn generate() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man");
    run(&bin("mld"), &["--manpage", man.to_str().unwrap()]);
    run(&bin("mldctl"), &["manpages", man.to_str().unwrap()]);
    for entry in std::fs::read_dir(&man).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        files.insert(format!("man/{name}"), std::fs::read(&path).unwrap());
    }
    for (shell, file) in [("bash", "{}.bash"), ("zsh", "_{}"), ("fish", "{}.fish")] {
        let mld = run(&bin("mld"), &["--completions", shell]);
        let mldctl = run(&bin("mldctl"), &["completions", shell]);
        files.insert(format!("completions/{}", file.replace("{}", "mld")), mld);
        files.insert(
            format!("completions/{}", file.replace("{}", "mldctl")),
            mldctl,
        );
    }
    files
}

fn checked_in() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for sub in ["man", "completions"] {
        let Ok(entries) = std::fs::read_dir(debian_dir().join(sub)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(format!("{sub}/{name}"), std::fs::read(&path).unwrap());
        }
    }
    files
}

#[test]
fn man_pages_and_completions_match_the_binaries() {
    let generated = generate();
    assert!(generated.contains_key("man/mld.8"));
    assert!(generated.contains_key("man/mldctl.1"));
    assert!(generated.contains_key("man/mldctl-dispatches.1"));
    assert!(
        !generated.contains_key("man/mldctl-manpages.1"),
        "the hidden generator has no page"
    );
    if std::env::var_os("MLD_UPDATE_PACKAGING").is_some() {
        for sub in ["man", "completions"] {
            let _ = std::fs::remove_dir_all(debian_dir().join(sub));
            std::fs::create_dir_all(debian_dir().join(sub)).unwrap();
        }
        for (path, bytes) in &generated {
            std::fs::write(debian_dir().join(path), bytes).unwrap();
        }
        return;
    }
    let shipped = checked_in();
    let stale: Vec<&String> = generated
        .iter()
        .filter(|(path, bytes)| shipped.get(*path) != Some(*bytes))
        .map(|(path, _)| path)
        .chain(shipped.keys().filter(|p| !generated.contains_key(*p)))
        .collect();
    assert!(
        stale.is_empty(),
        "daemon/debian/ is out of date with the binaries' flags ({stale:?}): regenerate it with\n\
         MLD_UPDATE_PACKAGING=1 cargo test -p mld-tests --test packaging\nand commit the result"
    );
}

fn require(program: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{program} is needed to check the completion scripts and man pages: \
         apt-get install bash zsh fish man-db groff-base (.ci/run does)"
    );
}

fn shell(program: &str, script: &str) -> std::process::Output {
    Command::new(program)
        .args(["-c", script])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

#[test]
fn bash_zsh_and_fish_load_the_completion_scripts() {
    for program in ["bash", "zsh", "fish"] {
        require(program);
    }
    let dir = debian_dir().join("completions");
    for name in ["mld", "mldctl"] {
        let bash = dir.join(format!("{name}.bash"));
        let syntax = shell("bash", &format!("bash -n '{}'", bash.display()));
        assert!(
            syntax.status.success(),
            "bash -n {name}.bash: {}",
            String::from_utf8_lossy(&syntax.stderr)
        );
        // Sourced, the script registers a completion for the command.
        let loaded = shell(
            "bash",
            &format!("source '{}' && complete -p {name}", bash.display()),
        );
        let said = String::from_utf8_lossy(&loaded.stdout);
        assert!(
            loaded.status.success() && said.trim_end().ends_with(&format!(" {name}")),
            "complete -p {name} after sourcing: {said} {}",
            String::from_utf8_lossy(&loaded.stderr)
        );
        assert!(
            loaded.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&loaded.stderr)
        );
        let zsh = shell(
            "zsh",
            &format!("zsh -n '{}'", dir.join(format!("_{name}")).display()),
        );
        assert!(
            zsh.status.success(),
            "zsh -n _{name}: {}",
            String::from_utf8_lossy(&zsh.stderr)
        );
        let fish_file = dir.join(format!("{name}.fish"));
        let fish = shell(
            "fish",
            &format!("fish --no-execute '{}'", fish_file.display()),
        );
        assert!(
            fish.status.success(),
            "fish --no-execute {name}.fish: {}",
            String::from_utf8_lossy(&fish.stderr)
        );
    }
    // The subcommands complete: what bash offers after `mldctl dis`.
    let bash = dir.join("mldctl.bash");
    let offered = shell(
        "bash",
        &format!(
            "source '{}'; COMP_WORDS=(mldctl dis); COMP_CWORD=1; COMP_LINE='mldctl dis'; \
             COMP_POINT=${{#COMP_LINE}}; _mldctl mldctl dis mldctl; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            bash.display()
        ),
    );
    let words: Vec<String> = String::from_utf8_lossy(&offered.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    for want in ["disable", "dispatch", "dispatches"] {
        assert!(
            words.iter().any(|w| w == want),
            "`mldctl dis<TAB>` offers {words:?}"
        );
    }
}

/// `man -l PAGE` as a person would read it, 100 columns wide.
fn render(page: &Path) -> String {
    let out = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("PAGER", "cat")
        .output()
        .unwrap_or_else(|e| panic!("cannot run man: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "man -l {}: {stderr}",
        page.display()
    );
    // Bold and underline come as overstrikes when not to a terminal.
    let text = String::from_utf8_lossy(&out.stdout);
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn man_renders_both_pages() {
    require("man");
    require("groff");
    let man = debian_dir().join("man");
    let mld = render(&man.join("mld.8"));
    for want in [
        "NAME",
        "SYNOPSIS",
        "--check-config",
        "/etc/mld/mld.toml",
        "SIGHUP",
    ] {
        assert!(mld.contains(want), "mld.8 lacks {want}:\n{mld}");
    }
    let mldctl = render(&man.join("mldctl.1"));
    for want in [
        "NAME",
        "--socket",
        "mldctl-dispatches(1)",
        "mldctl-completions(1)",
        "mld-admin",
    ] {
        assert!(mldctl.contains(want), "mldctl.1 lacks {want}:\n{mldctl}");
    }
    // Every subcommand's page renders, with its own flags.
    let dispatches = render(&man.join("mldctl-dispatches.1"));
    assert!(dispatches.contains("--json"), "{dispatches}");
    for entry in std::fs::read_dir(&man).unwrap() {
        render(&entry.unwrap().path());
    }
}

/// The packaged `/etc/mld/mld.toml` with every commented key and table
/// uncommented: the examples it shows must be valid too.
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("# ") else {
                return line.to_string();
            };
            let table = rest.starts_with('[') && rest.trim_end().ends_with(']');
            let key = rest.split_once(" = ").is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            });
            if table || key {
                rest.to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_packaged_configuration_is_valid_and_so_are_its_examples() {
    let path = debian_dir().join("mld.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let config = mld_shared::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.daemon.socket, Path::new("/run/mld/mld.sock"));
    assert_eq!(config.daemon.socket_group.as_deref(), Some("mld"));
    assert_eq!(config.daemon.state_dir, Path::new("/var/lib/mld"));
    assert_eq!(config.access.admin.groups, ["mld-admin"]);
    assert_eq!(config.access.dispatch.groups, ["mld"]);
    assert_eq!(
        config.metrics.listen, None,
        "the endpoint is off until asked for"
    );
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("mld.toml");
    std::fs::write(&all, uncommented(&text)).unwrap();
    let config = mld_shared::config::load(&all).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.jobs.len(), 1, "the job example is uncommented");
    assert_eq!(config.datalakes.len(), 1);
    assert_eq!(config.monitor.servers.len(), 1);
    assert_eq!(
        config.metrics.listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );
    // And `mld --check-config` agrees, as the unit's ExecStartPre runs it.
    let out = Command::new(bin("mld"))
        .arg("--check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
