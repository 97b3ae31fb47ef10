//! Who is on the other end of the socket, and what they may do.
//!
//! Receives a peer's Unix credentials (uid, gid, pid, read from the socket by
//! the kernel, not claimed by the client) and the `[access]` configuration;
//! emits a [`Peer`] with its user name and [`Roles`]. Root and the user the
//! daemon runs as are always `admin`. A peer's user and groups are looked up
//! once, at connect; its roles are recomputed from the configuration in force
//! ([`Peer::with_roles_from`]), so a reload applies to open connections.
//!
//! Also owns the record of refusals ([`denials`]): one event-log row per uid
//! and minute with a count, written through [`store`].

pub mod denials;
pub mod store;

use mld_shared::config::{AccessConfig, Principals};
use mld_shared::roles::{Role, Roles};
use nix::unistd::{Gid, Group, Uid, User};
use std::collections::HashMap;
use std::ffi::CString;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a resolved user name and group list is reused.
pub const IDENTITY_TTL: Duration = Duration::from_secs(5);
/// Cached identities past which the cache starts afresh.
const IDENTITY_CACHE_MAX: usize = 4096;

/// A user name and group names, as looked up at an instant.
type Identity = (Instant, String, Vec<String>);

/// Users and groups recently looked up, per (uid, gid): a flood of
/// connections from one user costs one NSS lookup, not one each.
#[derive(Default)]
pub struct Identities {
    cache: Mutex<HashMap<(u32, u32), Identity>>,
}

impl Identities {
    /// The peer from the cache, without blocking; `None` on a miss.
    pub fn cached(
        &self,
        uid: u32,
        gid: u32,
        pid: Option<i32>,
        access: &AccessConfig,
    ) -> Option<Peer> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let (at, user, groups) = cache.get(&(uid, gid))?;
        (at.elapsed() < IDENTITY_TTL).then(|| Peer {
            uid,
            gid,
            pid,
            roles: roles_for(uid, user, groups, access),
            user: user.clone(),
            groups: groups.clone(),
        })
    }

    /// Looks the peer up (blocking: NSS) and keeps the answer for [`IDENTITY_TTL`].
    pub fn resolve(&self, uid: u32, gid: u32, pid: Option<i32>, access: &AccessConfig) -> Peer {
        let peer = Peer::resolve(uid, gid, pid, access);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= IDENTITY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(
            (uid, gid),
            (Instant::now(), peer.user.clone(), peer.groups.clone()),
        );
        peer
    }
}

/// A connected peer, as the daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
    /// The user name, or the uid as text when it has no passwd entry.
    pub user: String,
    /// Names of the primary and supplementary groups.
    pub groups: Vec<String>,
    pub roles: Roles,
}

impl Peer {
    /// The same peer with its roles as `access` gives them; `None` when they
    /// are what it already holds.
    pub fn with_roles_from(&self, access: &AccessConfig) -> Option<Peer> {
        let roles = roles_for(self.uid, &self.user, &self.groups, access);
        (roles != self.roles).then(|| Peer {
            roles,
            ..self.clone()
        })
    }

    /// Resolves names and groups for a uid/gid and maps them to roles.
    /// Blocking (NSS lookups): call from a blocking thread.
    pub fn resolve(uid: u32, gid: u32, pid: Option<i32>, access: &AccessConfig) -> Peer {
        let user = User::from_uid(Uid::from_raw(uid)).ok().flatten();
        let name = user
            .as_ref()
            .map(|u| u.name.clone())
            .unwrap_or_else(|| uid.to_string());
        let mut gids = vec![Gid::from_raw(gid)];
        if let Some(u) = &user
            && let Ok(cname) = CString::new(u.name.clone())
            && let Ok(list) = nix::unistd::getgrouplist(&cname, Gid::from_raw(gid))
        {
            gids.extend(list);
        }
        gids.sort_by_key(|g| g.as_raw());
        gids.dedup();
        let groups: Vec<String> = gids
            .into_iter()
            .map(|g| {
                Group::from_gid(g)
                    .ok()
                    .flatten()
                    .map(|g| g.name)
                    .unwrap_or_else(|| g.as_raw().to_string())
            })
            .collect();
        let roles = roles_for(uid, &name, &groups, access);
        Peer {
            uid,
            gid,
            pid,
            user: name,
            groups,
            roles,
        }
    }
}

/// The roles a user holds under `access`.
pub fn roles_for(uid: u32, user: &str, groups: &[String], access: &AccessConfig) -> Roles {
    if uid == 0 || uid == nix::unistd::geteuid().as_raw() {
        return Roles::admin();
    }
    let listed = |p: &Principals| {
        p.users.iter().any(|u| u == user) || p.groups.iter().any(|g| groups.contains(g))
    };
    let mut roles = Roles::none();
    for (role, principals) in [
        (Role::Admin, &access.admin),
        (Role::Dispatch, &access.dispatch),
        (Role::Showroom, &access.showroom),
    ] {
        if listed(principals) {
            roles = roles.with(role);
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> AccessConfig {
        AccessConfig {
            admin: Principals {
                users: vec!["alice".into()],
                groups: vec![],
            },
            dispatch: Principals {
                users: vec![],
                groups: vec!["ops".into()],
            },
            showroom: Principals {
                users: vec!["carol".into()],
                groups: vec!["analysts".into()],
            },
        }
    }

    #[test]
    fn root_is_admin_and_others_get_what_config_lists() {
        assert_eq!(
            roles_for(0, "root", &[], &AccessConfig::default()),
            Roles::admin()
        );
        assert_eq!(roles_for(4242, "alice", &[], &access()), Roles::admin());
        let bob = roles_for(4243, "bob", &["ops".into()], &access());
        assert!(bob.has(Role::Dispatch) && !bob.has(Role::Admin) && !bob.has(Role::Showroom));
        let dan = roles_for(4244, "dan", &["analysts".into(), "ops".into()], &access());
        assert!(dan.has(Role::Dispatch) && dan.has(Role::Showroom) && !dan.has(Role::Admin));
        assert_eq!(
            roles_for(4245, "eve", &["staff".into()], &access()),
            Roles::none()
        );
    }

    #[test]
    fn resolve_finds_the_current_user() {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let peer = Peer::resolve(uid, gid, None, &AccessConfig::default());
        assert_eq!(peer.uid, uid);
        assert!(!peer.groups.is_empty());
        // The daemon's own user is always admin.
        assert_eq!(peer.roles, Roles::admin());
    }
}
