//! Checks that need no outside world, and path resolution.

use super::error::{ConfigError, ConfigErrors};
use super::locate::{Document, Seg};
use super::types::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Whether `s` is a plain SQL identifier, optionally qualified (`schema.table`):
/// each part starts with a letter or `_` and holds letters, digits and `_`.
/// Config never injects SQL: names from the file must pass this, and are quoted
/// when used.
pub fn is_sql_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Names of jobs, datalakes, servers and models: what a person types on a command line.
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

struct Checker<'a> {
    doc: &'a Document<'a>,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    fn fail(&mut self, path: &[Seg], message: impl Into<String>) {
        self.errors.push(self.doc.error(path, message));
    }

    fn check(&mut self, ok: bool, path: &[Seg], message: impl FnOnce() -> String) {
        if !ok {
            let m = message();
            self.fail(path, m);
        }
    }
}

fn p(parts: &[Seg]) -> Vec<Seg> {
    parts.to_vec()
}

fn k(s: &str) -> Seg {
    Seg::Key(s.to_string())
}

fn resolve(base: &Path, path: &mut PathBuf) {
    if path.is_relative() {
        *path = normalize(&base.join(&*path));
    }
}

/// Folds `.` and `..` without touching the file system (the file may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub(crate) fn validate(
    raw: RawConfig,
    doc: &Document<'_>,
    file: &Path,
    base: &Path,
) -> Result<Config, ConfigErrors> {
    let mut c = Checker {
        doc,
        errors: Vec::new(),
    };
    let RawConfig {
        mut daemon,
        access,
        monitor,
        mut datalakes,
        mut models,
        jobs,
        dispatches,
        mut showroom,
        limits,
        metrics,
        mut executors,
    } = raw;

    // [daemon]
    c.check(
        !daemon.socket.as_os_str().is_empty(),
        &[k("daemon"), k("socket")],
        || "expected a path for the Unix socket, got an empty string".into(),
    );
    c.check(
        matches!(
            daemon.log_level.to_ascii_lowercase().as_str(),
            "trace" | "debug" | "info" | "warn" | "error"
        ),
        &[k("daemon"), k("log_level")],
        || {
            format!(
                "expected one of trace, debug, info, warn, error; got {:?}",
                daemon.log_level
            )
        },
    );
    c.check(
        daemon.max_concurrent_dispatches >= 1,
        &[k("daemon"), k("max_concurrent_dispatches")],
        || "expected at least 1".into(),
    );
    if let Some(g) = &daemon.socket_group {
        c.check(!g.is_empty(), &[k("daemon"), k("socket_group")], || {
            "expected a group name".into()
        });
    }
    resolve(base, &mut daemon.socket);
    resolve(base, &mut daemon.state_dir);
    if let Some(e) = daemon.event_log.as_mut() {
        resolve(base, e);
    }

    // [monitor]
    c.check(
        monitor.refresh.0.as_millis() >= 1000,
        &[k("monitor"), k("refresh")],
        || "expected at least 1s between refreshes".into(),
    );
    let mut names = BTreeSet::new();
    for (i, s) in monitor.servers.iter().enumerate() {
        let at = |key: &str| p(&[k("monitor"), k("servers"), Seg::Index(i), k(key)]);
        c.check(is_plain_name(&s.name), &at("name"), || {
            format!(
                "expected a name of letters, digits, `-`, `_` or `.`; got {:?}",
                s.name
            )
        });
        c.check(names.insert(s.name.clone()), &at("name"), || {
            format!("server {:?} is listed twice", s.name)
        });
        c.check(!s.address.trim().is_empty(), &at("address"), || {
            "expected a host name or IP address".into()
        });
        c.check(s.port != 0, &at("port"), || {
            "expected a port from 1 to 65535".into()
        });
        c.check(!s.timeout.0.is_zero(), &at("timeout"), || {
            "expected a timeout above zero".into()
        });
    }

    // [datalakes.*]
    for (name, d) in datalakes.iter_mut() {
        let at = |key: &str| p(&[k("datalakes"), k(name), k(key)]);
        c.check(is_plain_name(name), &p(&[k("datalakes"), k(name)]), || {
            format!("datalake names use letters, digits, `-`, `_` or `.`; got {name:?}")
        });
        let sources = [
            d.connection.is_some(),
            d.connection_env.is_some(),
            d.connection_file.is_some(),
        ];
        let n_sources = sources.iter().filter(|b| **b).count();
        match d.kind {
            DatalakeKind::Sqlite => {
                c.check(d.path.is_some(), &at("path"), || {
                    "a `sqlite` datalake needs `path`, the database file".into()
                });
                if n_sources > 0 {
                    c.fail(&at("kind"), "a `sqlite` datalake takes `path`, not a connection string; use kind = \"odbc\" for ODBC");
                }
            }
            DatalakeKind::Odbc => {
                if n_sources != 1 {
                    c.fail(
                        &at("connection"),
                        "an `odbc` datalake needs exactly one of `connection`, `connection_env` or `connection_file`",
                    );
                }
                if d.path.is_some() {
                    c.fail(&at("path"), "`path` is for kind = \"sqlite\"; an `odbc` datalake takes a connection string");
                }
            }
        }
        if d.password_env.is_some() && d.password_file.is_some() {
            c.fail(
                &at("password_file"),
                "give the password by `password_env` or `password_file`, not both",
            );
        }
        if let Some(t) = &d.probe_table {
            c.check(is_sql_identifier(t), &at("probe_table"), || {
                format!("expected a table name like `health` or `schema.health`; got {t:?}")
            });
        }
        c.check(d.batch_size >= 1, &at("batch_size"), || {
            "expected at least 1".into()
        });
        c.check(
            !d.connect_timeout.0.is_zero(),
            &at("connect_timeout"),
            || "expected a timeout above zero".into(),
        );
        c.check(!d.query_timeout.0.is_zero(), &at("query_timeout"), || {
            "expected a timeout above zero".into()
        });
        for path in [
            d.path.as_mut(),
            d.connection_file.as_mut(),
            d.password_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            resolve(base, path);
        }
    }

    // [models]
    match models.registry.as_mut() {
        Some(r) => resolve(base, r),
        None => models.registry = Some(daemon.state_dir.join("models")),
    }
    if let Some(o) = models.onnxruntime.as_mut() {
        resolve(base, o);
    }
    for (name, ds) in models.datasets.iter_mut() {
        let at = |key: &str| p(&[k("models"), k("datasets"), k(name), k(key)]);
        let from_query = ds.datalake.is_some() || ds.query.is_some();
        if ds.csv.is_some() == from_query {
            c.fail(
                &at("csv"),
                "a dataset is either `csv = FILE` or `datalake` plus `query`",
            );
        }
        if from_query && (ds.datalake.is_none() || ds.query.is_none()) {
            c.fail(
                &at("query"),
                "a datalake dataset needs both `datalake` and `query`",
            );
        }
        if from_query && ds.features.as_ref().is_none_or(|f| f.is_empty()) {
            c.fail(
                &at("features"),
                "a datalake dataset lists its `features` (the columns to train on)",
            );
        }
        if let Some(dl) = &ds.datalake {
            c.check(datalakes.contains_key(dl), &at("datalake"), || {
                format!("no datalake named {dl:?} is configured")
            });
        }
        if let Some(csv) = ds.csv.as_mut() {
            resolve(base, csv);
        }
    }
    for (name, _) in models.active.iter() {
        c.check(
            is_plain_name(name),
            &p(&[k("models"), k("active"), k(name)]),
            || format!("model names use letters, digits, `-`, `_` or `.`; got {name:?}"),
        );
    }

    // [[jobs]]
    let mut job_names = BTreeSet::new();
    for (i, j) in jobs.iter().enumerate() {
        let at = |key: &str| p(&[k("jobs"), Seg::Index(i), k(key)]);
        c.check(is_plain_name(&j.name), &at("name"), || {
            format!(
                "job names use letters, digits, `-`, `_` or `.`; got {:?}",
                j.name
            )
        });
        c.check(job_names.insert(j.name.clone()), &at("name"), || {
            format!("job {:?} is defined twice", j.name)
        });
        c.check(datalakes.contains_key(&j.datalake), &at("datalake"), || {
            let known: Vec<&str> = datalakes.keys().map(String::as_str).collect();
            format!(
                "no datalake named {:?} is configured (configured: {})",
                j.datalake,
                list(&known)
            )
        });
        c.check(is_plain_name(&j.model), &at("model"), || {
            format!("expected a model name; got {:?}", j.model)
        });
        c.check(!j.query.trim().is_empty(), &at("query"), || {
            "expected a SELECT yielding the rows to score".into()
        });
        c.check(is_sql_identifier(&j.key_column), &at("key_column"), || {
            format!("expected a column name; got {:?}", j.key_column)
        });
        c.check(
            is_sql_identifier(&j.results_table),
            &at("results_table"),
            || {
                format!(
                    "expected a table name like `scores` or `schema.scores`; got {:?}",
                    j.results_table
                )
            },
        );
        let mut cols = BTreeSet::new();
        for (field, col) in j.results_columns.named() {
            let path = p(&[k("jobs"), Seg::Index(i), k("results_columns"), k(field)]);
            c.check(is_sql_identifier(col) && !col.contains('.'), &path, || {
                format!("expected a column name; got {col:?}")
            });
            c.check(cols.insert(col.to_ascii_lowercase()), &path, || {
                format!("column {col:?} is used twice")
            });
        }
        c.check(!j.schedule.trim().is_empty(), &at("schedule"), || {
            "expected a crontab expression like \"0 2 * * *\"".into()
        });
        if let Some(b) = j.batch_size {
            c.check(b >= 1, &at("batch_size"), || "expected at least 1".into());
        }
        if let Some(t) = j.timeout {
            c.check(!t.0.is_zero(), &at("timeout"), || {
                "expected a timeout above zero".into()
            });
        }
    }

    // [executors.*]
    for (name, e) in executors.iter_mut() {
        let at = |key: &str| p(&[k("executors"), k(name), k(key)]);
        c.check(is_plain_name(name), &p(&[k("executors"), k(name)]), || {
            format!("executor names use letters, digits, `-`, `_` or `.`; got {name:?}")
        });
        match e.kind {
            ExecutorKind::Slurm => {
                c.check(e.spool.is_some(), &at("spool"), || {
                    "a `slurm` executor needs `spool`, a folder every node sees (e.g. on NFS)"
                        .into()
                });
                c.check(e.workers.is_none(), &at("workers"), || {
                    "`workers` is for kind = \"local\"; Slurm decides where a `slurm` executor's tasks run".into()
                });
                for (i, a) in e.sbatch_args.iter().enumerate() {
                    let flag = a.split('=').next().unwrap_or("");
                    c.check(
                        !matches!(
                            flag,
                            "--array"
                                | "-a"
                                | "--output"
                                | "-o"
                                | "--error"
                                | "-e"
                                | "--parsable"
                                | "--wrap"
                                | "--job-name"
                                | "-J"
                        ),
                        &p(&[k("executors"), k(name), k("sbatch_args"), Seg::Index(i)]),
                        || format!("{flag} is set by mld for each dispatch; remove it"),
                    );
                }
                if let Some(part) = &e.partition {
                    c.check(is_plain_name(part), &at("partition"), || {
                        format!("expected a partition name; got {part:?}")
                    });
                }
            }
            ExecutorKind::Local => {
                for key in ["partition", "sbatch_args", "slurm_conf"] {
                    let set = match key {
                        "partition" => e.partition.is_some(),
                        "sbatch_args" => !e.sbatch_args.is_empty(),
                        _ => e.slurm_conf.is_some(),
                    };
                    if set {
                        c.fail(&at(key), format!("`{key}` is for kind = \"slurm\""));
                    }
                }
                if let Some(w) = e.workers {
                    c.check(w >= 1, &at("workers"), || "expected at least 1".into());
                }
                if e.spool.is_none() {
                    e.spool = Some(daemon.state_dir.join("spool"));
                }
            }
        }
        c.check(e.poll.0.as_millis() >= 50, &at("poll"), || {
            "expected at least 50ms".into()
        });
        for path in [e.spool.as_mut(), e.slurm_conf.as_mut(), e.mld.as_mut()]
            .into_iter()
            .flatten()
        {
            resolve(base, path);
        }
    }
    for (i, j) in jobs.iter().enumerate() {
        let at = |key: &str| p(&[k("jobs"), Seg::Index(i), k(key)]);
        let Some(name) = &j.executor else {
            for (key, set) in [
                ("shards", j.shards.is_some()),
                ("shard_by", j.shard_by.is_some()),
            ] {
                if set {
                    c.fail(
                        &at(key),
                        format!(
                            "`{key}` needs `executor`, the `[executors.NAME]` the shards run on"
                        ),
                    );
                }
            }
            continue;
        };
        let Some(executor) = executors.get(name) else {
            let known: Vec<&str> = executors.keys().map(String::as_str).collect();
            c.fail(
                &at("executor"),
                format!(
                    "no executor named {name:?} is configured (configured: {})",
                    list(&known)
                ),
            );
            continue;
        };
        match j.shards {
            Some(n) => c.check((1..=1000).contains(&n), &at("shards"), || {
                format!("expected from 1 to 1000 shards, got {n}")
            }),
            None => c.check(executor.kind == ExecutorKind::Local, &at("executor"), || {
                format!("a job on the `slurm` executor {name:?} needs `shards`, how many key ranges to split its rows into")
            }),
        }
        c.check(j.shard_retries <= 100, &at("shard_retries"), || {
            format!("expected at most 100 retries, got {}", j.shard_retries)
        });
        if let Some(expr) = &j.shard_by {
            c.check(expr.contains("{key}"), &at("shard_by"), || {
                format!(
                    "expected an SQL expression of the key written `{{key}}`, e.g. \"abs(hashtext({{key}})) % 1024\"; got {expr:?}"
                )
            });
            c.check(!expr.contains(';'), &at("shard_by"), || {
                "expected one SQL expression, without `;`".into()
            });
        }
    }

    // [dispatches]
    c.check(
        !dispatches.default_window.0.is_zero(),
        &[k("dispatches"), k("default_window")],
        || "expected a window above zero, like \"24h\"".into(),
    );

    // [showroom.*]
    for (name, s) in showroom.iter_mut() {
        c.check(
            s.columns >= 1,
            &[k("showroom"), k(name), k("columns")],
            || "expected at least 1".into(),
        );
        resolve(base, &mut s.samples);
    }

    for role in [
        ("admin", &access.admin),
        ("dispatch", &access.dispatch),
        ("showroom", &access.showroom),
    ] {
        for (i, u) in role.1.users.iter().enumerate() {
            c.check(
                !u.is_empty(),
                &[k("access"), k(role.0), k("users"), Seg::Index(i)],
                || "expected a user name".into(),
            );
        }
        for (i, g) in role.1.groups.iter().enumerate() {
            c.check(
                !g.is_empty(),
                &[k("access"), k(role.0), k("groups"), Seg::Index(i)],
                || "expected a group name".into(),
            );
        }
    }

    // [limits]
    let lim = |key: &str| p(&[k("limits"), k(key)]);
    c.check(limits.max_connections >= 1, &lim("max_connections"), || {
        "expected at least 1".into()
    });
    c.check(
        limits.admin_connections < limits.max_connections,
        &lim("admin_connections"),
        || {
            format!(
                "expected fewer than max_connections ({}), so users without admin can connect too",
                limits.max_connections
            )
        },
    );
    for (key, value) in [
        ("connections_per_user", limits.connections_per_user),
        ("requests_in_flight", limits.requests_in_flight),
        ("max_rows", limits.max_rows),
    ] {
        c.check(value >= 1, &lim(key), || "expected at least 1".into());
    }
    c.check(
        (4096..=crate::frame::MAX_FRAME_LEN as u32).contains(&limits.request_bytes),
        &lim("request_bytes"),
        || {
            format!(
                "expected from 4096 to {} bytes, got {}",
                crate::frame::MAX_FRAME_LEN,
                limits.request_bytes
            )
        },
    );
    for (key, value) in [
        ("handshake_timeout", limits.handshake_timeout),
        ("idle_timeout", limits.idle_timeout),
        ("frame_timeout", limits.frame_timeout),
        ("write_timeout", limits.write_timeout),
    ] {
        c.check(value.0.as_millis() >= 100, &lim(key), || {
            "expected at least 100ms".into()
        });
    }

    // [metrics]
    if let Some(addr) = metrics.listen {
        c.check(addr.port() != 0, &[k("metrics"), k("listen")], || {
            format!("expected a fixed port for Prometheus to scrape, got {addr}")
        });
    }

    if !c.errors.is_empty() {
        c.errors.sort_by_key(|e| e.line);
        return Err(ConfigErrors(c.errors));
    }
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    Ok(Config {
        file,
        daemon,
        access,
        monitor,
        datalakes,
        models,
        jobs,
        dispatches,
        showroom,
        limits,
        metrics,
        executors,
    })
}

fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}
