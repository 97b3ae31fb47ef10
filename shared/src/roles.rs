//! Roles a connected peer can hold, decided by the daemon from its Unix credentials.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a peer may do. `Admin` implies the other two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// Everything: enable/disable jobs, run now, move model aliases, commit, reload.
    Admin,
    /// Read the monitor and the dispatch history.
    Dispatch,
    /// Use the showroom.
    Showroom,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Dispatch, Role::Showroom];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Dispatch => "dispatch",
            Role::Showroom => "showroom",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The set of roles a peer holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    pub admin: bool,
    pub dispatch: bool,
    pub showroom: bool,
}

impl Roles {
    pub fn admin() -> Self {
        Roles {
            admin: true,
            dispatch: true,
            showroom: true,
        }
    }

    pub fn none() -> Self {
        Roles::default()
    }

    pub fn with(mut self, role: Role) -> Self {
        match role {
            Role::Admin => return Roles::admin(),
            Role::Dispatch => self.dispatch = true,
            Role::Showroom => self.showroom = true,
        }
        self
    }

    /// No role at all: such a peer is refused at the handshake.
    pub fn is_empty(self) -> bool {
        self == Roles::none()
    }

    pub fn has(self, role: Role) -> bool {
        match role {
            Role::Admin => self.admin,
            Role::Dispatch => self.admin || self.dispatch,
            Role::Showroom => self.admin || self.showroom,
        }
    }

    pub fn list(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| self.has(*r)).collect()
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.list().into_iter().map(Role::as_str).collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_implies_every_role() {
        let r = Roles::none().with(Role::Admin);
        assert!(Role::ALL.iter().all(|role| r.has(*role)));
        let d = Roles::none().with(Role::Dispatch);
        assert!(d.has(Role::Dispatch) && !d.has(Role::Admin) && !d.has(Role::Showroom));
        assert_eq!(d.to_string(), "dispatch");
        assert_eq!(Roles::none().to_string(), "none");
    }
}
