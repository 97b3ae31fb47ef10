//! Real Unix users for the access tests, one per role and one with none,
//! and running a program as one of them.
//!
//! `.ci/run` creates them; [`ensure`] creates whatever is missing when the
//! tests run as root (idempotent), and fails with a clear message otherwise.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Once;

/// Holds `admin` through its group [`ADMIN_GROUP`].
pub const ADMIN: &str = "mldt-admin";
/// Holds `dispatch`, listed by name.
pub const OPERATOR: &str = "mldt-operator";
/// Holds `showroom` through its group [`ANALYST_GROUP`].
pub const ANALYST: &str = "mldt-analyst";
/// Holds no role.
pub const NOBODY: &str = "mldt-norole";
pub const ADMIN_GROUP: &str = "mldt-admins";
pub const ANALYST_GROUP: &str = "mldt-analysts";

/// The `[access]` table that gives the users above their roles.
pub fn access_toml() -> String {
    format!(
        "[access]\nadmin = {{ groups = [\"{ADMIN_GROUP}\"] }}\ndispatch = {{ users = [\"{OPERATOR}\"] }}\n\
         showroom = {{ groups = [\"{ANALYST_GROUP}\"] }}\n"
    )
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {cmd}: {e} (the access tests need useradd/groupadd)")
    });
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes sure the users and groups exist. Panics, saying why, if they do
/// not and cannot be created (not root).
pub fn ensure() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let missing = [ADMIN_GROUP, ANALYST_GROUP]
            .iter()
            .any(|g| nix::unistd::Group::from_name(g).ok().flatten().is_none())
            || [ADMIN, OPERATOR, ANALYST, NOBODY]
                .iter()
                .any(|u| uid(u).is_none());
        if !missing {
            return;
        }
        assert!(
            nix::unistd::getuid().is_root(),
            "the access tests need the users {ADMIN}, {OPERATOR}, {ANALYST}, {NOBODY} and the groups \
             {ADMIN_GROUP}, {ANALYST_GROUP}: run the tests as root (they create them) or run .ci/run once"
        );
        for g in [ADMIN_GROUP, ANALYST_GROUP] {
            run("groupadd", &["-f", g]);
        }
        for (user, group) in [
            (ADMIN, Some(ADMIN_GROUP)),
            (OPERATOR, None),
            (ANALYST, Some(ANALYST_GROUP)),
            (NOBODY, None),
        ] {
            if uid(user).is_none() {
                let mut args = vec!["-M", "-N", "-s", "/usr/sbin/nologin"];
                if let Some(g) = group {
                    args.extend(["-G", g]);
                }
                args.push(user);
                run("useradd", &args);
            }
        }
    });
}

pub fn uid(user: &str) -> Option<u32> {
    nix::unistd::User::from_name(user)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
}

/// `program ARGS` as `user` (with that user's groups), through runuser.
pub fn command_as(user: &str, program: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", user, "--"]).arg(program).args(args);
    c.stdin(Stdio::null());
    c
}

/// Runs `program ARGS` as `user` to completion.
pub fn run_as(user: &str, program: &Path, args: &[&str]) -> Output {
    command_as(user, program, args)
        .output()
        .expect("run a program as another user")
}

/// Lets other users reach a folder (the daemon's socket inside it).
pub fn open_to_all(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}
