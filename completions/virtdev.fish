# fish completion for virtdev(1) and the virtdev-<verb> programs.
#
# Installed as vendor_completions.d/virtdev.fish, with a symbolic link
# virtdev-<verb>.fish -> virtdev.fish per program: fish loads a command's
# completions from the file named after it, so the direct commands need
# their own names. Whichever name loads it, this file registers all of them,
# once.
#
# Verbs. The verbs offered after `virtdev` are the programs this file was
# written with (one block each, generated from the programs' declarations by
# `make docs`), plus every other executable
# virtdev-<verb> found the way the dispatcher finds programs: beside the
# virtdev being completed (symbolic links resolved), then on PATH. So
# `./bin/virtdev <TAB>` in a build tree and programs installed later both
# complete. A verb without a block gets --help, --color and file names.
#
# Projects are the directory names under
# ${VIRTDEV_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/virtdev}/projects
# that are valid project names (so never a hidden scratch directory).

# The verbs with a block: each block sets __virtdev_valued_<verb>.
function __virtdev_known_verbs
    set -n | string match -r '^__virtdev_valued_(.+)$' | string match -v -r '^__virtdev_valued_' | string replace -a _ -
end

function __virtdev_projects
    set -l home $VIRTDEV_HOME
    if test -z "$home"
        set -l data $XDG_DATA_HOME
        test -z "$data"; and set data $HOME/.local/share
        set home $data/virtdev
    end
    for dir in $home/projects/*/
        set -l name (string replace -r '^.*/([^/]+)/$' '$1' -- $dir)
        # Valid names only: no dot names, no scratch or stray directories.
        string match -qr '^[a-zA-Z0-9_-]{1,100}$' -- $name; or continue
        test "$name" = maintenance; and continue
        printf '%s\tproject\n' $name
    end
end

function __virtdev_verbs
    set -l self (commandline -opc)[1]
    set -l verbs (__virtdev_known_verbs)
    set -l dirs
    if string match -q -- '*/*' $self
        set -a dirs (string replace -r '/[^/]*$' '' -- $self)
    else
        set self (command -s -- $self)
    end
    if test -n "$self" -a -L "$self"
        set -l resolved (builtin realpath -- $self 2>/dev/null)
        and set -a dirs (string replace -r '/[^/]*$' '' -- $resolved)
    end
    for file in $dirs/virtdev-* $PATH/virtdev-*
        test -f $file -a -x $file; or continue
        set -l verb (string replace -r '^.*/virtdev-' '' -- $file)
        # As the dispatcher: no empty verb, no path, no option look-alike.
        string match -qr '^(-.*|\.|\.\.)?$' -- $verb; and continue
        contains -- $verb $verbs; or set -a verbs $verb
    end
    printf '%s\n' $verbs
end

# __virtdev_parse reads the command line before the cursor into
# __virtdev_verb (empty while the dispatcher's verb is still to come),
# __virtdev_args (the verb's arguments so far), __virtdev_options (1 while
# options are still read) and __virtdev_value (1 when the word being
# completed is the value of an option given as a separate word).
function __virtdev_parse
    set -l tokens (commandline -opc)
    set -l cmd (string replace -r '^.*/' '' -- $tokens[1])
    set -e tokens[1]
    set -g __virtdev_verb ''
    set -g __virtdev_args
    set -g __virtdev_options 1
    set -g __virtdev_value 0
    if test "$cmd" = virtdev
        # The dispatcher's own options come before the verb.
        while set -q tokens[1]; and string match -q -- '-*' $tokens[1]
            set -l token $tokens[1]
            set -e tokens[1]
            test "$token" = --; and break
        end
        set -q tokens[1]; or return 0
        set __virtdev_verb $tokens[1]
        set -e tokens[1]
    else
        set __virtdev_verb (string replace -r '^virtdev-' '' -- $cmd)
    end
    set -l key (string replace -a -- - _ $__virtdev_verb)
    set -l valued
    set -l passthrough 0
    set -q __virtdev_valued_$key; and set valued $__virtdev_valued_$key
    set -q __virtdev_passthrough_$key; and set passthrough $__virtdev_passthrough_$key
    for token in $tokens
        if test $__virtdev_value = 1
            set __virtdev_value 0
        else if test $__virtdev_options = 1 -a "$token" = --
            set __virtdev_options 0
        else if test $__virtdev_options = 1; and string match -q -- '-*' $token
            contains -- $token $valued; and set __virtdev_value 1
        else
            set -a __virtdev_args $token
            # A pass-through program hands everything after its first
            # argument to another program.
            test "$passthrough" = 1; and set __virtdev_options 0
        end
    end
    return 0
end

# The dispatcher's verb is the word being completed.
function __virtdev_needs_verb
    __virtdev_parse
    test -z "$__virtdev_verb"
end

# __virtdev_is VERB: the command line is VERB's.
function __virtdev_is
    __virtdev_parse
    test "$__virtdev_verb" = $argv[1]
end

# Options are still read, and no option's value is being completed.
function __virtdev_options
    test $__virtdev_options = 1 -a $__virtdev_value = 0
end

# __virtdev_arg N: the word being completed is argument N (from 0).
function __virtdev_arg
    test $__virtdev_value = 0 -a (count $__virtdev_args) = $argv[1]
end

# __virtdev_arg_from N: the word being completed is argument N or later.
function __virtdev_arg_from
    test $__virtdev_value = 0 -a (count $__virtdev_args) -ge $argv[1]
end

# __virtdev_pick KEY=VALUES...: the values listed for the argument before
# this one, else those listed with an empty key.
function __virtdev_pick
    set -l previous $__virtdev_args[-1]
    set -l chosen
    for set in $argv
        string match -q -- '=*' $set; and test -z "$chosen"; and set chosen (string sub -s 2 -- $set)
    end
    for set in $argv
        set -l parts (string split -m 1 = -- $set)
        test -n "$previous" -a "$parts[1]" = "$previous"; and set chosen $parts[2]
    end
    string split ' ' -- $chosen
end

# The snapshot ids (date/time) of the project named before; an unfinished
# (.partial) one is no snapshot.
function __virtdev_snapshots
    set -l project $__virtdev_args[-1]
    string match -qr '^[a-zA-Z0-9_][a-zA-Z0-9_-]{0,99}$' -- $project; or return 0
    set -l home $VIRTDEV_HOME
    if test -z "$home"
        set -l data $XDG_DATA_HOME
        test -z "$data"; and set data $HOME/.local/share
        set home $data/virtdev
    end
    for dir in $home/backups/$project/*/*/
        string match -r '[0-9]{4}-[0-9]{2}-[0-9]{2}/[0-9]{2}-[0-9]{2}-[0-9]{2}(?=/$)' -- $dir
    end
end

function __virtdev_unknown_verb
    __virtdev_parse
    test -n "$__virtdev_verb" -a "$__virtdev_verb" != help
    and not contains -- $__virtdev_verb (__virtdev_known_verbs)
end

if not set -q __virtdev_completion_loaded
    set -g __virtdev_completion_loaded 1

# >>> generated by make docs: one block per program
# >>> virtdev-backup
set -g __virtdev_valued_backup 
set -g __virtdev_passthrough_backup 0
complete -c virtdev-backup -c virtdev -n '__virtdev_is backup; and __virtdev_options' -f
complete -c virtdev-backup -c virtdev -n '__virtdev_is backup; and __virtdev_options' -s l -l list -d 'list the project\'s snapshots instead (the machine need not run)'
complete -c virtdev-backup -c virtdev -n '__virtdev_is backup; and __virtdev_options' -l latest -d 'print the newest snapshot\'s id (YYYY-MM-DD/HH-MM-SS) instead'
complete -c virtdev-backup -c virtdev -n '__virtdev_is backup; and __virtdev_options' -l json -d 'with --list: print the snapshots as JSON'
complete -c virtdev-backup -c virtdev -n '__virtdev_is backup; and __virtdev_options' -s v -l verbose -d 'show rsync\'s progress even when standard error is not a terminal'
complete -c virtdev-backup -c virtdev -n '__virtdev_is backup; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-backup -c virtdev -n '__virtdev_is backup; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-backup -c virtdev -n '__virtdev_is backup; and __virtdev_arg 0' -a '(__virtdev_projects)'
# <<< virtdev-backup
# >>> virtdev-bootstrap
set -g __virtdev_valued_bootstrap --suite --mirror
set -g __virtdev_passthrough_bootstrap 0
complete -c virtdev-bootstrap -c virtdev -n '__virtdev_is bootstrap; and __virtdev_options' -f
complete -c virtdev-bootstrap -c virtdev -n '__virtdev_is bootstrap; and __virtdev_options' -l suite -x -d 'Debian release to install; default bookworm'
complete -c virtdev-bootstrap -c virtdev -n '__virtdev_is bootstrap; and __virtdev_options' -l mirror -x -d 'mirror to install from, e.g. a local one (default: Debian\'s)'
complete -c virtdev-bootstrap -c virtdev -n '__virtdev_is bootstrap; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-bootstrap -c virtdev -n '__virtdev_is bootstrap; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
# <<< virtdev-bootstrap
# >>> virtdev-console
set -g __virtdev_valued_console 
set -g __virtdev_passthrough_console 0
complete -c virtdev-console -c virtdev -n '__virtdev_is console; and __virtdev_options' -f
complete -c virtdev-console -c virtdev -n '__virtdev_is console; and __virtdev_options' -s f -l force -d 'attach without a terminal: relay standard input and output as they are'
complete -c virtdev-console -c virtdev -n '__virtdev_is console; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-console -c virtdev -n '__virtdev_is console; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-console -c virtdev -n '__virtdev_is console; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
# <<< virtdev-console
# >>> virtdev-create
set -g __virtdev_valued_create 
set -g __virtdev_passthrough_create 0
complete -c virtdev-create -c virtdev -n '__virtdev_is create; and __virtdev_options' -f
complete -c virtdev-create -c virtdev -n '__virtdev_is create; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-create -c virtdev -n '__virtdev_is create; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
# <<< virtdev-create
# >>> virtdev-destroy
set -g __virtdev_valued_destroy 
set -g __virtdev_passthrough_destroy 0
complete -c virtdev-destroy -c virtdev -n '__virtdev_is destroy; and __virtdev_options' -f
complete -c virtdev-destroy -c virtdev -n '__virtdev_is destroy; and __virtdev_options' -s y -l yes -d 'destroy without asking (needed when standard input is not a terminal)'
complete -c virtdev-destroy -c virtdev -n '__virtdev_is destroy; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-destroy -c virtdev -n '__virtdev_is destroy; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-destroy -c virtdev -n '__virtdev_is destroy; and __virtdev_arg 0' -a '(__virtdev_projects)'
# <<< virtdev-destroy
# >>> virtdev-detach
set -g __virtdev_valued_detach 
set -g __virtdev_passthrough_detach 0
complete -c virtdev-detach -c virtdev -n '__virtdev_is detach; and __virtdev_options' -f
complete -c virtdev-detach -c virtdev -n '__virtdev_is detach; and __virtdev_options' -l in-place -d 'rebase the existing images instead of converting copies: less disk space, no rollback if interrupted'
complete -c virtdev-detach -c virtdev -n '__virtdev_is detach; and __virtdev_options' -s y -l yes -d 'detach without asking (needed when standard input is not a terminal)'
complete -c virtdev-detach -c virtdev -n '__virtdev_is detach; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-detach -c virtdev -n '__virtdev_is detach; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-detach -c virtdev -n '__virtdev_is detach; and __virtdev_arg 0' -a '(__virtdev_projects)'
# <<< virtdev-detach
# >>> virtdev-disk
set -g __virtdev_valued_disk 
set -g __virtdev_passthrough_disk 0
complete -c virtdev-disk -c virtdev -n '__virtdev_is disk; and __virtdev_options' -f
complete -c virtdev-disk -c virtdev -n '__virtdev_is disk; and __virtdev_options' -l json -d 'print one JSON object: the project, whether it is detached, and each disk\'s sizes and backing file'
complete -c virtdev-disk -c virtdev -n '__virtdev_is disk; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-disk -c virtdev -n '__virtdev_is disk; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-disk -c virtdev -n '__virtdev_is disk; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
# <<< virtdev-disk
# >>> virtdev-generation
set -g __virtdev_valued_generation 
set -g __virtdev_passthrough_generation 0
complete -c virtdev-generation -c virtdev -n '__virtdev_is generation; and __virtdev_options' -f
complete -c virtdev-generation -c virtdev -n '__virtdev_is generation; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-generation -c virtdev -n '__virtdev_is generation; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-generation -c virtdev -n '__virtdev_is generation; and __virtdev_arg 0' -a '(__virtdev_projects)'
# <<< virtdev-generation
# >>> virtdev-install
set -g __virtdev_valued_install --timeout
set -g __virtdev_passthrough_install 0
complete -c virtdev-install -c virtdev -n '__virtdev_is install; and __virtdev_options' -f
complete -c virtdev-install -c virtdev -n '__virtdev_is install; and __virtdev_options' -l timeout -x -d 'stop an installation that has not finished after DURATION (such as 90m); 0 waits as long as it takes; default 2h'
complete -c virtdev-install -c virtdev -n '__virtdev_is install; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-install -c virtdev -n '__virtdev_is install; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-install -c virtdev -n '__virtdev_is install; and __virtdev_arg 0' -a '(__fish_complete_path (commandline -ct))'
# <<< virtdev-install
# >>> virtdev-iso
set -g __virtdev_valued_iso 
set -g __virtdev_passthrough_iso 0
complete -c virtdev-iso -c virtdev -n '__virtdev_is iso; and __virtdev_options' -f
complete -c virtdev-iso -c virtdev -n '__virtdev_is iso; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-iso -c virtdev -n '__virtdev_is iso; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
# <<< virtdev-iso
# >>> virtdev-key
set -g __virtdev_valued_key 
set -g __virtdev_passthrough_key 0
complete -c virtdev-key -c virtdev -n '__virtdev_is key; and __virtdev_options' -f
complete -c virtdev-key -c virtdev -n '__virtdev_is key; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-key -c virtdev -n '__virtdev_is key; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
# <<< virtdev-key
# >>> virtdev-list
set -g __virtdev_valued_list 
set -g __virtdev_passthrough_list 0
complete -c virtdev-list -c virtdev -n '__virtdev_is list; and __virtdev_options' -f
complete -c virtdev-list -c virtdev -n '__virtdev_is list; and __virtdev_options' -l json -d 'print one JSON document: the base generation and every column of every project'
complete -c virtdev-list -c virtdev -n '__virtdev_is list; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-list -c virtdev -n '__virtdev_is list; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
# <<< virtdev-list
# >>> virtdev-log
set -g __virtdev_valued_log --lines -n
set -g __virtdev_passthrough_log 0
complete -c virtdev-log -c virtdev -n '__virtdev_is log; and __virtdev_options' -f
complete -c virtdev-log -c virtdev -n '__virtdev_is log; and __virtdev_options' -s f -l follow -d 'show new entries as they come, until interrupted'
complete -c virtdev-log -c virtdev -n '__virtdev_is log; and __virtdev_options' -s n -l lines -x -d 'show only the last N entries'
complete -c virtdev-log -c virtdev -n '__virtdev_is log; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-log -c virtdev -n '__virtdev_is log; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-log -c virtdev -n '__virtdev_is log; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
# <<< virtdev-log
# >>> virtdev-maintain
set -g __virtdev_valued_maintain 
set -g __virtdev_passthrough_maintain 0
complete -c virtdev-maintain -c virtdev -n '__virtdev_is maintain; and __virtdev_options' -f
complete -c virtdev-maintain -c virtdev -n '__virtdev_is maintain; and __virtdev_options' -s y -l yes -d 'reseal without asking once the guest has powered off and sealed itself'
complete -c virtdev-maintain -c virtdev -n '__virtdev_is maintain; and __virtdev_options' -l no-provision -d 'run neither the provision hook nor VIRTDEV_SCRIPT'
complete -c virtdev-maintain -c virtdev -n '__virtdev_is maintain; and __virtdev_options' -l no-inventory -d 'run no inventory hook'
complete -c virtdev-maintain -c virtdev -n '__virtdev_is maintain; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-maintain -c virtdev -n '__virtdev_is maintain; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
# <<< virtdev-maintain
# >>> virtdev-monitor
set -g __virtdev_valued_monitor 
set -g __virtdev_passthrough_monitor 1
complete -c virtdev-monitor -c virtdev -n '__virtdev_is monitor; and __virtdev_options' -f
complete -c virtdev-monitor -c virtdev -n '__virtdev_is monitor; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-monitor -c virtdev -n '__virtdev_is monitor; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-monitor -c virtdev -n '__virtdev_is monitor; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
# <<< virtdev-monitor
# >>> virtdev-move
set -g __virtdev_valued_move 
set -g __virtdev_passthrough_move 0
complete -c virtdev-move -c virtdev -n '__virtdev_is move; and __virtdev_options' -f
complete -c virtdev-move -c virtdev -n '__virtdev_is move; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-move -c virtdev -n '__virtdev_is move; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-move -c virtdev -n '__virtdev_is move; and __virtdev_arg 0' -a '(__virtdev_projects)'
# <<< virtdev-move
# >>> virtdev-nuke
set -g __virtdev_valued_nuke 
set -g __virtdev_passthrough_nuke 0
complete -c virtdev-nuke -c virtdev -n '__virtdev_is nuke; and __virtdev_options' -f
complete -c virtdev-nuke -c virtdev -n '__virtdev_is nuke; and __virtdev_options' -s y -l yes -d 'delete without asking (needed when standard input is not a terminal)'
complete -c virtdev-nuke -c virtdev -n '__virtdev_is nuke; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-nuke -c virtdev -n '__virtdev_is nuke; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
# <<< virtdev-nuke
# >>> virtdev-path
set -g __virtdev_valued_path 
set -g __virtdev_passthrough_path 0
complete -c virtdev-path -c virtdev -n '__virtdev_is path; and __virtdev_options' -f
complete -c virtdev-path -c virtdev -n '__virtdev_is path; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-path -c virtdev -n '__virtdev_is path; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-path -c virtdev -n '__virtdev_is path; and __virtdev_arg 0' -a '(__virtdev_projects; printf "base\tsealed base\nmaintenance\tstaging copy\n")'
complete -c virtdev-path -c virtdev -n '__virtdev_is path; and __virtdev_arg 1' -a '(__virtdev_pick "=data system-image home-image nvram generation port monitor console events qemu-pid shutdown backups manifest config" "base=data system-image home-image nvram generation" "maintenance=data system-image home-image nvram generation")'
# <<< virtdev-path
# >>> virtdev-pid
set -g __virtdev_valued_pid 
set -g __virtdev_passthrough_pid 0
complete -c virtdev-pid -c virtdev -n '__virtdev_is pid; and __virtdev_options' -f
complete -c virtdev-pid -c virtdev -n '__virtdev_is pid; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-pid -c virtdev -n '__virtdev_is pid; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-pid -c virtdev -n '__virtdev_is pid; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
# <<< virtdev-pid
# >>> virtdev-port
set -g __virtdev_valued_port 
set -g __virtdev_passthrough_port 0
complete -c virtdev-port -c virtdev -n '__virtdev_is port; and __virtdev_options' -f
complete -c virtdev-port -c virtdev -n '__virtdev_is port; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-port -c virtdev -n '__virtdev_is port; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-port -c virtdev -n '__virtdev_is port; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
# <<< virtdev-port
# >>> virtdev-recreate
set -g __virtdev_valued_recreate --provision -p
set -g __virtdev_passthrough_recreate 0
complete -c virtdev-recreate -c virtdev -n '__virtdev_is recreate; and __virtdev_options' -f
complete -c virtdev-recreate -c virtdev -n '__virtdev_is recreate; and __virtdev_options' -l no-backup -d 'take no snapshot first; restore the newest existing one, if any'
complete -c virtdev-recreate -c virtdev -n '__virtdev_is recreate; and __virtdev_options' -l no-restore -d 'restore nothing into the new machine'
complete -c virtdev-recreate -c virtdev -n '__virtdev_is recreate; and __virtdev_options' -l no-provision -d 'run no provision script'
complete -c virtdev-recreate -c virtdev -n '__virtdev_is recreate; and __virtdev_options' -s p -l provision -x -d 'run this provision script instead of the project\'s own'
complete -c virtdev-recreate -c virtdev -n '__virtdev_is recreate; and __virtdev_options' -s y -l yes -d 'recreate without asking (needed when standard input is not a terminal)'
complete -c virtdev-recreate -c virtdev -n '__virtdev_is recreate; and __virtdev_options' -s v -l verbose -d 'show rsync\'s progress even when standard error is not a terminal'
complete -c virtdev-recreate -c virtdev -n '__virtdev_is recreate; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-recreate -c virtdev -n '__virtdev_is recreate; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-recreate -c virtdev -n '__virtdev_is recreate; and __virtdev_arg 0' -a '(__virtdev_projects)'
# <<< virtdev-recreate
# >>> virtdev-restore
set -g __virtdev_valued_restore 
set -g __virtdev_passthrough_restore 0
complete -c virtdev-restore -c virtdev -n '__virtdev_is restore; and __virtdev_options' -f
complete -c virtdev-restore -c virtdev -n '__virtdev_is restore; and __virtdev_options' -s v -l verbose -d 'show rsync\'s progress even when standard error is not a terminal'
complete -c virtdev-restore -c virtdev -n '__virtdev_is restore; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-restore -c virtdev -n '__virtdev_is restore; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-restore -c virtdev -n '__virtdev_is restore; and __virtdev_arg 0' -a '(__virtdev_projects)'
complete -c virtdev-restore -c virtdev -n '__virtdev_is restore; and __virtdev_arg 1' -a '(__virtdev_snapshots)'
# <<< virtdev-restore
# >>> virtdev-resume
set -g __virtdev_valued_resume 
set -g __virtdev_passthrough_resume 0
complete -c virtdev-resume -c virtdev -n '__virtdev_is resume; and __virtdev_options' -f
complete -c virtdev-resume -c virtdev -n '__virtdev_is resume; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-resume -c virtdev -n '__virtdev_is resume; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-resume -c virtdev -n '__virtdev_is resume; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
# <<< virtdev-resume
# >>> virtdev-seal
set -g __virtdev_valued_seal 
set -g __virtdev_passthrough_seal 0
complete -c virtdev-seal -c virtdev -n '__virtdev_is seal; and __virtdev_options' -f
complete -c virtdev-seal -c virtdev -n '__virtdev_is seal; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-seal -c virtdev -n '__virtdev_is seal; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
# <<< virtdev-seal
# >>> virtdev-ssh
set -g __virtdev_valued_ssh 
set -g __virtdev_passthrough_ssh 1
complete -c virtdev-ssh -c virtdev -n '__virtdev_is ssh; and __virtdev_options' -f
complete -c virtdev-ssh -c virtdev -n '__virtdev_is ssh; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-ssh -c virtdev -n '__virtdev_is ssh; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-ssh -c virtdev -n '__virtdev_is ssh; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
complete -c virtdev-ssh -c virtdev -n '__virtdev_is ssh; and __virtdev_arg_from 1' -a '(__fish_complete_path (commandline -ct))'
# <<< virtdev-ssh
# >>> virtdev-ssh-config
set -g __virtdev_valued_ssh_config 
set -g __virtdev_passthrough_ssh_config 0
complete -c virtdev-ssh-config -c virtdev -n '__virtdev_is ssh-config; and __virtdev_options' -f
complete -c virtdev-ssh-config -c virtdev -n '__virtdev_is ssh-config; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-ssh-config -c virtdev -n '__virtdev_is ssh-config; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-ssh-config -c virtdev -n '__virtdev_is ssh-config; and __virtdev_arg_from 0' -a '(__virtdev_projects)'
# <<< virtdev-ssh-config
# >>> virtdev-stale
set -g __virtdev_valued_stale 
set -g __virtdev_passthrough_stale 0
complete -c virtdev-stale -c virtdev -n '__virtdev_is stale; and __virtdev_options' -f
complete -c virtdev-stale -c virtdev -n '__virtdev_is stale; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-stale -c virtdev -n '__virtdev_is stale; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
# <<< virtdev-stale
# >>> virtdev-start
set -g __virtdev_valued_start --net
set -g __virtdev_passthrough_start 0
complete -c virtdev-start -c virtdev -n '__virtdev_is start; and __virtdev_options' -f
complete -c virtdev-start -c virtdev -n '__virtdev_is start; and __virtdev_options' -l net -x -a 'none wan full' -d 'the network zone: none, wan or full (default: the project\'s net file, else wan)'
complete -c virtdev-start -c virtdev -n '__virtdev_is start; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-start -c virtdev -n '__virtdev_is start; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-start -c virtdev -n '__virtdev_is start; and __virtdev_arg 0' -a '(__virtdev_projects)'
# <<< virtdev-start
# >>> virtdev-status
set -g __virtdev_valued_status 
set -g __virtdev_passthrough_status 0
complete -c virtdev-status -c virtdev -n '__virtdev_is status; and __virtdev_options' -f
complete -c virtdev-status -c virtdev -n '__virtdev_is status; and __virtdev_options' -l json -d 'print one JSON object: the project, its state, QEMU\'s status and the reason'
complete -c virtdev-status -c virtdev -n '__virtdev_is status; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-status -c virtdev -n '__virtdev_is status; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-status -c virtdev -n '__virtdev_is status; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
# <<< virtdev-status
# >>> virtdev-stop
set -g __virtdev_valued_stop 
set -g __virtdev_passthrough_stop 0
complete -c virtdev-stop -c virtdev -n '__virtdev_is stop; and __virtdev_options' -f
complete -c virtdev-stop -c virtdev -n '__virtdev_is stop; and __virtdev_options' -s f -l force -d 'send QEMU SIGTERM at once, without pressing the power button: the guest does not shut down cleanly'
complete -c virtdev-stop -c virtdev -n '__virtdev_is stop; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-stop -c virtdev -n '__virtdev_is stop; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-stop -c virtdev -n '__virtdev_is stop; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
# <<< virtdev-stop
# >>> virtdev-supervise
set -g __virtdev_valued_supervise --net --ssh-port
set -g __virtdev_passthrough_supervise 1
complete -c virtdev-supervise -c virtdev -n '__virtdev_is supervise; and __virtdev_options' -f
complete -c virtdev-supervise -c virtdev -n '__virtdev_is supervise; and __virtdev_options' -l net -x -a 'none wan full' -d 'the machine\'s network zone: none, wan or full'
complete -c virtdev-supervise -c virtdev -n '__virtdev_is supervise; and __virtdev_options' -l ssh-port -x -d 'the port on 127.0.0.1 forwarded to the guest\'s SSH server (without it, none is)'
complete -c virtdev-supervise -c virtdev -n '__virtdev_is supervise; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-supervise -c virtdev -n '__virtdev_is supervise; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-supervise -c virtdev -n '__virtdev_is supervise; and __virtdev_arg 0' -a '(__fish_complete_path (commandline -ct))'
# <<< virtdev-supervise
# >>> virtdev-transfer
set -g __virtdev_valued_transfer 
set -g __virtdev_passthrough_transfer 0
complete -c virtdev-transfer -c virtdev -n '__virtdev_is transfer; and __virtdev_options' -f
complete -c virtdev-transfer -c virtdev -n '__virtdev_is transfer; and __virtdev_options' -s v -l verbose -d 'show the progress and name every file, even when stderr is not a terminal'
complete -c virtdev-transfer -c virtdev -n '__virtdev_is transfer; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-transfer -c virtdev -n '__virtdev_is transfer; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-transfer -c virtdev -n '__virtdev_is transfer; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
complete -c virtdev-transfer -c virtdev -n '__virtdev_is transfer; and __virtdev_arg 1' -a '(__fish_complete_path (commandline -ct))'
complete -c virtdev-transfer -c virtdev -n '__virtdev_is transfer; and __virtdev_arg 2' -a '(__fish_complete_path (commandline -ct))'
# <<< virtdev-transfer
# >>> virtdev-upgrade
set -g __virtdev_valued_upgrade --only --except
set -g __virtdev_passthrough_upgrade 0
complete -c virtdev-upgrade -c virtdev -n '__virtdev_is upgrade; and __virtdev_options' -f
complete -c virtdev-upgrade -c virtdev -n '__virtdev_is upgrade; and __virtdev_options' -l only -x -d 'upgrade only these projects (comma-separated)'
complete -c virtdev-upgrade -c virtdev -n '__virtdev_is upgrade; and __virtdev_options' -l except -x -d 'upgrade every project but these (comma-separated)'
complete -c virtdev-upgrade -c virtdev -n '__virtdev_is upgrade; and __virtdev_options' -l skip-outdated -d 'leave out the projects that are stopped and already derived from another base'
complete -c virtdev-upgrade -c virtdev -n '__virtdev_is upgrade; and __virtdev_options' -s y -l yes -d 'upgrade without asking; handed on to virtdev-maintain'
complete -c virtdev-upgrade -c virtdev -n '__virtdev_is upgrade; and __virtdev_options' -s v -l verbose -d 'show rsync\'s progress even when standard error is not a terminal'
complete -c virtdev-upgrade -c virtdev -n '__virtdev_is upgrade; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-upgrade -c virtdev -n '__virtdev_is upgrade; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
# <<< virtdev-upgrade
# >>> virtdev-wait
set -g __virtdev_valued_wait 
set -g __virtdev_passthrough_wait 0
complete -c virtdev-wait -c virtdev -n '__virtdev_is wait; and __virtdev_options' -f
complete -c virtdev-wait -c virtdev -n '__virtdev_is wait; and __virtdev_options' -l color -x -a 'yes no auto' -d 'colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto'
complete -c virtdev-wait -c virtdev -n '__virtdev_is wait; and __virtdev_options' -s h -l help -d 'print the usage, the description and the exit codes, and exit 0'
complete -c virtdev-wait -c virtdev -n '__virtdev_is wait; and __virtdev_arg 0' -a '(__virtdev_projects; printf "maintenance\tmachine\n")'
# <<< virtdev-wait
# <<< generated

    for cmd in virtdev virtdev-(__virtdev_known_verbs)
        complete -c $cmd -f
        complete -c $cmd -n __virtdev_unknown_verb -F
    end
    complete -c virtdev -n '__virtdev_unknown_verb; and __virtdev_options' -s h -l help -d 'Show the help and exit codes'
    complete -c virtdev -n '__virtdev_unknown_verb; and __virtdev_options' -l color -x -a 'yes no auto' -d 'Colour messages on stderr'

    # The dispatcher: its options and verbs come first; help takes a verb.
    complete -c virtdev -n __virtdev_needs_verb -s h -l help -d 'Show the help and the verbs'
    complete -c virtdev -n __virtdev_needs_verb -l color -x -a 'yes no auto' -d 'Colour messages on stderr'
    complete -c virtdev -n __virtdev_needs_verb -a '(__virtdev_verbs)' -d verb
    complete -c virtdev -n __virtdev_needs_verb -a help -d 'Show the help of a verb'
    complete -c virtdev -n '__virtdev_is help; and __virtdev_arg 0' -a '(__virtdev_verbs)' -d verb
end
