# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mldctl_global_optspecs
    string join \n socket= config= log-file= h/help V/version
end

function __fish_mldctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mldctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mldctl_using_subcommand
    set -l cmd (__fish_mldctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mldctl -n "__fish_mldctl_needs_command" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_needs_command" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_needs_command" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mldctl -n "__fish_mldctl_needs_command" -s V -l version -d 'Print version'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "console" -d 'Open the console (the default)'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "status" -d 'Print the daemon\'s version, uptime, jobs, running dispatches and clients'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "demo" -d 'Start a demo daemon with the bundled configuration and open the console on it'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "jobs" -d 'List the jobs: state, schedule, last and next dispatch'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "enable" -d 'Make a job active again (admin)'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "disable" -d 'Pause a job (admin), optionally until it resumes by itself'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "run" -d 'Start a dispatch of a job now (admin); prints its id'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "slots" -d 'A job\'s slot ledger: what was decided for each cron slot'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "history" -d 'A job\'s state changes: who paused or resumed it, when and why'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "dispatches" -d 'List the dispatches created in a window, newest first'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "dispatch" -d 'One dispatch: its summary, and on request its events and predictions'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "cancel" -d 'Cancel a running dispatch (admin)'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "retry" -d 'Do a dispatch\'s write-back again from its stored predictions (admin): for one that failed, was cancelled or interrupted after storing them. Rows already in the results table under its id are counted first and never duplicated. A dispatch scored in shards that ended before every shard was in runs only the shards not done (the others\' predictions are kept), then writes its results in one transaction'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "reload" -d 'Re-read the daemon\'s configuration file and apply it (admin); prints what changed, or why the file was refused (the running one is kept)'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "models" -d 'The model registry: every name, its versions, metrics and which is active'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "catalog" -d 'What can be trained: datasets, models with their hyperparameters, metrics'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "train" -d 'Train a model from a catalog dataset (admin); it becomes an experiment'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "experiments" -d 'Trained models not yet committed'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "experiment" -d 'One experiment: what it was trained on and its evaluation'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "commit" -d 'Make an experiment the next version of a model (admin)'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "activate" -d 'Make VERSION the active version of model NAME (admin)'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "import-onnx" -d 'Add a scikit-learn model exported with skl2onnx (zipmap off) as the next version of NAME (admin)'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "predict" -d 'Score one record with a model (its active version unless --version)'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "showroom" -d 'A model\'s showroom: every sample row with its prediction; one row on its own (--row), edited (--set) and why (--explain). Without MODEL, the showrooms'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "completions" -d 'Print a completion script for SHELL: bash, zsh, fish, elvish or powershell (e.g. `source <(mldctl completions bash)`)'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "manpages" -d 'Write the man pages (mldctl.1 and one per subcommand) into DIR'
complete -c mldctl -n "__fish_mldctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mldctl -n "__fish_mldctl_using_subcommand console" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand console" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand console" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand console" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand status" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand status" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand status" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand status" -l json -d 'Print one JSON object instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand status" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand demo" -l dir -d 'Folder for the demo\'s configuration, assets and state [default: $XDG_STATE_HOME/mld/demo]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand demo" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand demo" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand demo" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand demo" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand jobs" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand jobs" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand jobs" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand jobs" -l json -d 'Print a JSON array instead of a table'
complete -c mldctl -n "__fish_mldctl_using_subcommand jobs" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand enable" -l reason -d 'Why, for the job\'s history' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand enable" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand enable" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand enable" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand enable" -l json -d 'Print the job as JSON'
complete -c mldctl -n "__fish_mldctl_using_subcommand enable" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand disable" -l reason -d 'Why, for the job\'s history (shown to everyone)' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand disable" -l until -d 'Resume by itself at TS: RFC 3339 with an offset (2026-11-23T10:00:00-03:00) or a length of time from now (2h, 30m, 1d)' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand disable" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand disable" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand disable" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand disable" -l json -d 'Print the job as JSON'
complete -c mldctl -n "__fish_mldctl_using_subcommand disable" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand run" -l dry-run -d 'Score the first N rows and show what would be written, writing nothing' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand run" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand run" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand run" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand run" -l wait -d 'Wait for the dispatch to finish; exit 0 only if it succeeded'
complete -c mldctl -n "__fish_mldctl_using_subcommand run" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand run" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand slots" -l since -d 'How far back: a length of time (24h) or an instant with an offset' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand slots" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand slots" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand slots" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand slots" -l json -d 'Print a JSON array instead of a table'
complete -c mldctl -n "__fish_mldctl_using_subcommand slots" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand history" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand history" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand history" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand history" -l json -d 'Print a JSON array instead of a table'
complete -c mldctl -n "__fish_mldctl_using_subcommand history" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatches" -l since -d 'Since a length of time ago (24h) or an instant with an offset' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatches" -l from -d 'Window start: an instant with an offset, or a length of time ago' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatches" -l to -d 'Window end [default: now]' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatches" -l job -d 'Only this job\'s dispatches' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatches" -l limit -d 'At most this many, newest first' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatches" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatches" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatches" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatches" -l json -d 'Print a JSON array instead of a table'
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatches" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatch" -l search -d 'Only predictions whose row key contains KEY' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatch" -l limit -d 'At most N predictions' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatch" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatch" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatch" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatch" -l events -d 'Show its steps, in order'
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatch" -l predictions -d 'Show its predictions (in row-key order) and the class distribution'
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatch" -l json -d 'Print one JSON object instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand dispatch" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand cancel" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand cancel" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand cancel" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand cancel" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand cancel" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand retry" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand retry" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand retry" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand retry" -l wait -d 'Wait for the write-back to finish; exit 0 only if it succeeded'
complete -c mldctl -n "__fish_mldctl_using_subcommand retry" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand retry" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand reload" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand reload" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand reload" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand reload" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand reload" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand models" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand models" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand models" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand models" -l json -d 'Print JSON instead of a table'
complete -c mldctl -n "__fish_mldctl_using_subcommand models" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand catalog" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand catalog" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand catalog" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand catalog" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand catalog" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand train" -l dataset -r
complete -c mldctl -n "__fish_mldctl_using_subcommand train" -l model -d 'A catalog model, e.g. random_forest' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand train" -l param -d 'A hyperparameter, NAME=VALUE; repeat for more' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand train" -l test-split -d 'Share of rows held out for evaluation, in (0, 1)' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand train" -l seed -d 'Same seed, same data, same request: the same model' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand train" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand train" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand train" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand train" -l wait -d 'Follow the training (progress on stderr) and print the experiment\'s metrics'
complete -c mldctl -n "__fish_mldctl_using_subcommand train" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand train" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand experiments" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand experiments" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand experiments" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand experiments" -l json -d 'Print JSON instead of a table'
complete -c mldctl -n "__fish_mldctl_using_subcommand experiments" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand experiment" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand experiment" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand experiment" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand experiment" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand experiment" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand commit" -l name -d 'The model name it becomes a version of' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand commit" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand commit" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand commit" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand commit" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand commit" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand activate" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand activate" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand activate" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand activate" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand activate" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand import-onnx" -l name -r
complete -c mldctl -n "__fish_mldctl_using_subcommand import-onnx" -l features -d 'The features, in order: one name per column of the graph\'s inputs. Omit them when the graph takes one input per column (a ColumnTransformer exported with one input per column): the inputs\' names are the features' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand import-onnx" -l labels -d 'Class labels in the model\'s class order, when the graph does not name them' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand import-onnx" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand import-onnx" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand import-onnx" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand import-onnx" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand import-onnx" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand predict" -l model -r
complete -c mldctl -n "__fish_mldctl_using_subcommand predict" -l version -r
complete -c mldctl -n "__fish_mldctl_using_subcommand predict" -l values -d 'The values in the model\'s feature order: numbers, or text for a text feature (empty is NULL)' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand predict" -l field -d 'A value by feature name, NAME=VALUE; repeat for each feature' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand predict" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand predict" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand predict" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand predict" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand predict" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand showroom" -l row -d 'Predict sample row N (1-based, as listed) on its own, with every class\'s score' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand showroom" -l set -d 'Change a feature of the row, FEATURE=VALUE; repeat for more. Shows before and after' -r
complete -c mldctl -n "__fish_mldctl_using_subcommand showroom" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand showroom" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand showroom" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand showroom" -l explain -d 'Say why: each feature\'s contribution, the tree\'s path or the forest\'s votes'
complete -c mldctl -n "__fish_mldctl_using_subcommand showroom" -l json -d 'Print JSON instead of text'
complete -c mldctl -n "__fish_mldctl_using_subcommand showroom" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand completions" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand completions" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand completions" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand manpages" -l socket -d 'The daemon\'s Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand manpages" -l config -d 'Read the socket path from this configuration file\'s `daemon.socket`' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand manpages" -l log-file -d 'Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]' -r -F
complete -c mldctl -n "__fish_mldctl_using_subcommand manpages" -s h -l help -d 'Print help'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "console" -d 'Open the console (the default)'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "status" -d 'Print the daemon\'s version, uptime, jobs, running dispatches and clients'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "demo" -d 'Start a demo daemon with the bundled configuration and open the console on it'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "jobs" -d 'List the jobs: state, schedule, last and next dispatch'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "enable" -d 'Make a job active again (admin)'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "disable" -d 'Pause a job (admin), optionally until it resumes by itself'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "run" -d 'Start a dispatch of a job now (admin); prints its id'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "slots" -d 'A job\'s slot ledger: what was decided for each cron slot'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "history" -d 'A job\'s state changes: who paused or resumed it, when and why'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "dispatches" -d 'List the dispatches created in a window, newest first'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "dispatch" -d 'One dispatch: its summary, and on request its events and predictions'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "cancel" -d 'Cancel a running dispatch (admin)'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "retry" -d 'Do a dispatch\'s write-back again from its stored predictions (admin): for one that failed, was cancelled or interrupted after storing them. Rows already in the results table under its id are counted first and never duplicated. A dispatch scored in shards that ended before every shard was in runs only the shards not done (the others\' predictions are kept), then writes its results in one transaction'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "reload" -d 'Re-read the daemon\'s configuration file and apply it (admin); prints what changed, or why the file was refused (the running one is kept)'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "models" -d 'The model registry: every name, its versions, metrics and which is active'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "catalog" -d 'What can be trained: datasets, models with their hyperparameters, metrics'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "train" -d 'Train a model from a catalog dataset (admin); it becomes an experiment'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "experiments" -d 'Trained models not yet committed'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "experiment" -d 'One experiment: what it was trained on and its evaluation'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "commit" -d 'Make an experiment the next version of a model (admin)'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "activate" -d 'Make VERSION the active version of model NAME (admin)'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "import-onnx" -d 'Add a scikit-learn model exported with skl2onnx (zipmap off) as the next version of NAME (admin)'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "predict" -d 'Score one record with a model (its active version unless --version)'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "showroom" -d 'A model\'s showroom: every sample row with its prediction; one row on its own (--row), edited (--set) and why (--explain). Without MODEL, the showrooms'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "completions" -d 'Print a completion script for SHELL: bash, zsh, fish, elvish or powershell (e.g. `source <(mldctl completions bash)`)'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "manpages" -d 'Write the man pages (mldctl.1 and one per subcommand) into DIR'
complete -c mldctl -n "__fish_mldctl_using_subcommand help; and not __fish_seen_subcommand_from console status demo jobs enable disable run slots history dispatches dispatch cancel retry reload models catalog train experiments experiment commit activate import-onnx predict showroom completions manpages help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
