# fish completion for virtdev(1) and the virtdev-<verb> programs.
#
# Installed as vendor_completions.d/virtdev.fish, with a symbolic link
# virtdev-<verb>.fish -> virtdev.fish per program: fish loads a command's
# completions from the file named after it, so the direct commands need
# their own names. Whichever name loads it, this file registers all of them,
# once.
#
# Verbs. The verbs offered after `virtdev` are the programs this file was
# written with (__virtdev_known_verbs), plus every other executable
# virtdev-<verb> found the way the dispatcher finds programs: beside the
# virtdev being completed (symbolic links resolved), then on PATH. So
# `./bin/virtdev <TAB>` in a build tree and programs installed later both
# complete. What a verb takes is described below for the known verbs; any
# other verb gets --help, --color and file names.
#
# Projects are the directory names under
# ${VIRTDEV_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/virtdev}/projects
# that are valid project names (so never a hidden scratch directory).

set -g __virtdev_known_verbs bootstrap create generation key path seal ssh stale start stop wait

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
    set -l verbs $__virtdev_known_verbs
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
# completed is the value of --suite or --mirror).
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
    for token in $tokens
        if test $__virtdev_value = 1
            set __virtdev_value 0
        else if test $__virtdev_options = 1 -a "$token" = --
            set __virtdev_options 0
        else if test $__virtdev_options = 1; and string match -q -- '-*' $token
            if test "$__virtdev_verb" = bootstrap; and contains -- $token --suite --mirror
                set __virtdev_value 1
            end
        else
            set -a __virtdev_args $token
            # virtdev-ssh hands everything after the project to ssh.
            test "$__virtdev_verb" = ssh; and set __virtdev_options 0
        end
    end
    return 0
end

# The dispatcher's verb is the word being completed.
function __virtdev_needs_verb
    __virtdev_parse
    test -z "$__virtdev_verb"
end

# Options of the verb (any verb when none is named) are still read.
function __virtdev_verb_options
    __virtdev_parse
    test -n "$__virtdev_verb" -a "$__virtdev_verb" != help
    and test $__virtdev_options = 1 -a $__virtdev_value = 0
    and begin
        test (count $argv) = 0; or contains -- $__virtdev_verb $argv
    end
end

# __virtdev_arg N VERB...: the word being completed is argument N (from 0)
# of one of the VERBs.
function __virtdev_arg
    __virtdev_parse
    test $__virtdev_value = 0 -a (count $__virtdev_args) = $argv[1]
    and contains -- $__virtdev_verb $argv[2..-1]
end

function __virtdev_path_resource
    __virtdev_arg 1 path
end

function __virtdev_unknown_verb
    __virtdev_parse
    test -n "$__virtdev_verb" -a "$__virtdev_verb" != help
    and not contains -- $__virtdev_verb $__virtdev_known_verbs
end

if not set -q __virtdev_completion_loaded
    set -g __virtdev_completion_loaded 1

    for cmd in virtdev virtdev-$__virtdev_known_verbs
        complete -c $cmd -f
        complete -c $cmd -n __virtdev_unknown_verb -F

        # Options every program has.
        complete -c $cmd -n __virtdev_verb_options -s h -l help -d 'Show the help and exit codes'
        complete -c $cmd -n __virtdev_verb_options -l color -d 'Colour messages on stderr'
        complete -c $cmd -n '__virtdev_verb_options; and string match -q -- "--color=*" (commandline -ct)' \
            -a '--color=yes --color=no --color=auto'

        # virtdev-bootstrap's own options.
        complete -c $cmd -n '__virtdev_verb_options bootstrap' -l suite -x -d 'Debian release to install (default: bookworm)'
        complete -c $cmd -n '__virtdev_verb_options bootstrap' -l mirror -x -d "Mirror to install from (default: Debian's)"

        # Arguments that name a project or a machine.
        complete -c $cmd -n '__virtdev_arg 0 generation start' -a '(__virtdev_projects)'
        complete -c $cmd -n '__virtdev_arg 0 ssh stop wait' -a '(__virtdev_projects)'
        complete -c $cmd -n '__virtdev_arg 0 ssh stop wait' -a maintenance -d 'the maintenance machine'
        complete -c $cmd -n '__virtdev_arg 0 path' -a '(__virtdev_projects)'
        complete -c $cmd -n '__virtdev_arg 0 path' -a base -d 'the sealed base'
        complete -c $cmd -n '__virtdev_arg 0 path' -a maintenance -d 'the maintenance staging copy'

        # virtdev-path's resources; base and maintenance have the first five.
        complete -c $cmd -n __virtdev_path_resource -a data -d 'the directory'
        complete -c $cmd -n __virtdev_path_resource -a system-image -d 'the system disk'
        complete -c $cmd -n __virtdev_path_resource -a home-image -d 'the home disk'
        complete -c $cmd -n __virtdev_path_resource -a nvram -d 'the UEFI variable store'
        complete -c $cmd -n __virtdev_path_resource -a generation -d 'the base generation file'
        set -l project_only '__virtdev_path_resource; and not contains -- "$__virtdev_args[1]" base maintenance'
        complete -c $cmd -n $project_only -a port -d 'the SSH port file (exists while the VM runs)'
        complete -c $cmd -n $project_only -a monitor -d 'the QMP socket'
        complete -c $cmd -n $project_only -a console -d 'the serial console socket'
        complete -c $cmd -n $project_only -a backups -d 'the backup snapshots directory'
        complete -c $cmd -n $project_only -a manifest -d 'the backup manifest in force'
        complete -c $cmd -n $project_only -a config -d 'the configuration directory'
    end

    # The dispatcher: its options and verbs come first; help takes a verb.
    complete -c virtdev -n __virtdev_needs_verb -s h -l help -d 'Show the help and the verbs'
    complete -c virtdev -n __virtdev_needs_verb -l color -d 'Colour messages on stderr'
    complete -c virtdev -n '__virtdev_needs_verb; and string match -q -- "--color=*" (commandline -ct)' \
        -a '--color=yes --color=no --color=auto'
    complete -c virtdev -n __virtdev_needs_verb -a '(__virtdev_verbs)' -d verb
    complete -c virtdev -n __virtdev_needs_verb -a help -d 'Show the help of a verb'
    complete -c virtdev -n '__virtdev_arg 0 help' -a '(__virtdev_verbs)' -d verb
end
