complete -c mld -s c -l config -d 'The configuration file' -r -F
complete -c mld -l check-config -d 'Validate a configuration file (PATH, else --config) and exit: 0 if valid, 1 if not' -r -F
complete -c mld -l completions -d 'Print a completion script for SHELL and exit (the package installs them)' -r -f -a "bash\t''
elvish\t''
fish\t''
powershell\t''
zsh\t''"
complete -c mld -l manpage -d 'Write the man page (mld.8) into DIR and exit' -r -F
complete -c mld -l init-demo -d 'Before starting, make the demo directory score for real: train the demo model and fill the demo datalake (what `mldctl demo` uses)'
complete -c mld -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mld -s V -l version -d 'Print version'
