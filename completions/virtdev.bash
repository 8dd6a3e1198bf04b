# bash completion for virtdev(1) and the virtdev-<verb> programs.
#
# Installed as bash-completion/completions/virtdev, with a symbolic link
# named after each program (virtdev-start -> virtdev, ...), so that
# bash-completion's on-demand loader finds this file for the direct commands
# too. It does not need bash-completion: sourcing it is enough.
#
# Verbs. The verbs offered after `virtdev` are the programs this file was
# written with (one _virtdev_spec_<verb> function each, generated from the
# programs' declarations by `make docs`), plus every other executable
# virtdev-<verb> found the way the dispatcher finds programs: beside the
# virtdev being completed (symbolic links resolved), then on PATH. So
# `./bin/virtdev <TAB>` in a build tree and programs installed later both
# complete. A verb without a spec gets --help, --color and file names.
#
# Projects are the directory names under
# ${VIRTDEV_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/virtdev}/projects
# that are valid project names (so never a hidden scratch directory).

# _virtdev_home: the data directory, as the programs find it.
_virtdev_home() {
    printf '%s' "${VIRTDEV_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/virtdev}"
}

# _virtdev_known_verbs: the verbs with a spec, in the array _virtdev_names.
_virtdev_known_verbs() {
    local f
    _virtdev_names=()
    while IFS= read -r f; do
        [[ $f == _virtdev_spec__* ]] && continue
        f=${f#_virtdev_spec_}
        _virtdev_names+=("${f//_/-}")
    done < <(compgen -A function _virtdev_spec_)
    return 0
}

# _virtdev_projects: the project names, in the array _virtdev_names.
_virtdev_projects() {
    local dir
    dir=$(_virtdev_home)/projects
    local d failglob=0
    _virtdev_names=()
    shopt -q failglob && failglob=1 && shopt -u failglob
    for d in "$dir"/*/; do
        [[ -d $d ]] || continue
        d=${d%/}
        d=${d##*/}
        # Valid names only: no dot names, no scratch or stray directories.
        [[ $d =~ ^[a-zA-Z0-9_-]{1,100}$ && $d != maintenance ]] && _virtdev_names+=("$d")
    done
    ((failglob)) && shopt -s failglob
    return 0
}

# _virtdev_verbs SELF: the verbs, in the array _virtdev_names. SELF is the
# dispatcher as typed (virtdev, ./bin/virtdev, ...).
_virtdev_verbs() {
    local self=$1 dir f v resolved failglob=0
    local -A seen=()
    local -a dirs=()
    if [[ $self == */* ]]; then
        dirs+=("${self%/*}")
    else
        self=$(type -P -- "$self" 2>/dev/null)
    fi
    if [[ -n $self && -L $self ]]; then
        resolved=$(readlink -f -- "$self" 2>/dev/null) && dirs+=("${resolved%/*}")
    fi
    _virtdev_known_verbs
    for v in "${_virtdev_names[@]}"; do seen[$v]=1; done
    shopt -q failglob && failglob=1 && shopt -u failglob
    for dir in "${dirs[@]}"; do
        for f in "$dir"/virtdev-*; do
            [[ -f $f && -x $f ]] && seen[${f##*/virtdev-}]=1
        done
    done
    ((failglob)) && shopt -s failglob
    while IFS= read -r f; do
        seen[${f#virtdev-}]=1
    done < <(compgen -c -- virtdev-)
    _virtdev_names=()
    for v in "${!seen[@]}"; do
        # As the dispatcher: no empty verb, no path, no option look-alike.
        [[ -n $v && $v != */* && $v != -* && $v != . && $v != .. ]] && _virtdev_names+=("$v")
    done
    return 0
}

# _virtdev_add PREFIX WORD...: add the WORDs that start with PREFIX to
# COMPREPLY.
_virtdev_add() {
    local prefix=$1 w
    shift
    for w; do
        [[ $w == "$prefix"* ]] && COMPREPLY+=("$w")
    done
    return 0
}

# _virtdev_words: COMP_WORDS with "--opt" "=" "value" joined back into one
# word (bash splits at the = of COMP_WORDBREAKS), in words, cword and cur.
_virtdev_words() {
    local i w line=${COMP_LINE:0:COMP_POINT} joined=0
    words=()
    cword=0
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        w=${COMP_WORDS[i]}
        if ((i > 0)) && [[ $w == = && ${COMP_WORDS[i - 1]} == --* ]]; then
            words[${#words[@]} - 1]+=$w
            joined=1
        elif ((joined)) && ! [[ $i == "$COMP_CWORD" && -z $w && $line == *[[:blank:]] ]]; then
            words[${#words[@]} - 1]+=$w
            joined=0
        else
            words+=("$w")
            joined=0
        fi
        ((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
    done
    cur=${words[cword]}
    return 0
}

# _virtdev_snapshots PROJECT: the project's snapshot ids (date/time), in
# the array _virtdev_names; unfinished (.partial) ones are no snapshots.
_virtdev_snapshots() {
    local dir d failglob=0
    dir=$(_virtdev_home)/backups/$1
    _virtdev_names=()
    [[ $1 =~ ^[a-zA-Z0-9_][a-zA-Z0-9_-]{0,99}$ ]] || return 0
    shopt -q failglob && failglob=1 && shopt -u failglob
    for d in "$dir"/*/*/; do
        d=${d%/}
        [[ $d =~ /([0-9]{4}-[0-9]{2}-[0-9]{2}/[0-9]{2}-[0-9]{2}-[0-9]{2})$ ]] && _virtdev_names+=("${BASH_REMATCH[1]}")
    done
    ((failglob)) && shopt -s failglob
    return 0
}

# _virtdev_args VERB FIRST: complete the arguments of virtdev-VERB, whose
# own arguments start at words[FIRST], as its spec describes them.
_virtdev_args() {
    local verb=$1 first=$2 j w ddash=0 value=0 n kind opt
    local -a positionals=() options=(-h --help --color=) args=()
    local -A choices=([--color]='yes no auto') values=()
    local valued=' ' rest=text passthrough=0
    local spec=_virtdev_spec_${verb//-/_}
    if declare -F "$spec" >/dev/null; then
        "$spec"
    else
        rest=file
    fi
    for ((j = first; j < cword; j++)); do
        w=${words[j]}
        if ((value)); then
            value=0
        elif ((!ddash)) && [[ $w == -- ]]; then
            ddash=1
        elif ((!ddash)) && [[ $w == -* ]]; then
            [[ $valued == *" $w "* ]] && value=1
        else
            positionals+=("$w")
            # A pass-through program hands everything after its first
            # argument to another program.
            ((passthrough)) && ddash=1
        fi
    done
    # The value of an option given as a separate word.
    if ((value)); then
        opt=${words[cword - 1]}
        [[ -n ${choices[$opt]} ]] && _virtdev_add "$cur" ${choices[$opt]}
        return 0
    fi

    if ((!ddash)) && [[ $cur == -* ]]; then
        if [[ $cur == --*=* ]]; then
            opt=${cur%%=*}
            local choice
            for choice in ${choices[$opt]}; do
                _virtdev_add "$cur" "$opt=$choice"
            done
        else
            _virtdev_add "$cur" "${options[@]}"
        fi
        return 0
    fi

    n=${#positionals[@]}
    kind=${args[n]:-$rest}
    case $kind in
    project | machine | path-target)
        _virtdev_projects
        [[ $kind == machine ]] && _virtdev_names+=(maintenance)
        [[ $kind == path-target ]] && _virtdev_names+=(base maintenance)
        _virtdev_add "$cur" "${_virtdev_names[@]}"
        ;;
    resource)
        local key=$n
        ((n > 0)) && [[ -n ${values[$n:${positionals[n - 1]}]+set} ]] && key=$n:${positionals[n - 1]}
        _virtdev_add "$cur" ${values[$key]}
        ;;
    snapshot)
        ((n > 0)) && _virtdev_snapshots "${positionals[n - 1]}" && _virtdev_add "$cur" "${_virtdev_names[@]}"
        ;;
    verb)
        _virtdev_verbs "${words[0]}"
        _virtdev_add "$cur" "${_virtdev_names[@]}"
        ;;
    file | transfer | ssh)
        # A guest path (:path) has nothing to complete from the host.
        [[ $kind == transfer && $cur == :* ]] && return 0
        compopt -o default 2>/dev/null
        ;;
    esac
    return 0
}

_virtdev() {
    local cur cword i=1 verb
    local -a words _virtdev_names
    COMPREPLY=()
    _virtdev_words

    local cmd=${words[0]##*/}
    if [[ $cmd == virtdev ]]; then
        # The dispatcher's own options come before the verb.
        while ((i < cword)) && [[ ${words[i]} == -* ]]; do
            [[ ${words[i]} == -- ]] && { ((i++)); break; }
            ((i++))
        done
        if ((i == cword)); then
            if [[ $cur == -* && ${words[i - 1]} != -- ]]; then
                case $cur in
                --color=*) _virtdev_add "$cur" --color=yes --color=no --color=auto ;;
                *) _virtdev_add "$cur" -h --help --color= ;;
                esac
            else
                _virtdev_verbs "${words[0]}"
                _virtdev_add "$cur" help "${_virtdev_names[@]}"
            fi
        else
            verb=${words[i]}
            if [[ $verb == help ]]; then
                if ((cword == i + 1)); then
                    _virtdev_verbs "${words[0]}"
                    _virtdev_add "$cur" "${_virtdev_names[@]}"
                fi
            else
                _virtdev_args "$verb" $((i + 1))
            fi
        fi
    else
        _virtdev_args "${cmd#virtdev-}" 1
    fi

    # Bash replaces only the text after the last = (a word break); drop
    # what comes before it from the candidates.
    if [[ $cur == *=* && $COMP_WORDBREAKS == *=* ]]; then
        local prefix=${cur%"${cur##*=}"}
        COMPREPLY=("${COMPREPLY[@]#"$prefix"}")
    fi
    # An option that takes a value attached with = gets no space after it.
    if ((${#COMPREPLY[@]} == 1)) && [[ $COMPREPLY == *= ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

# >>> generated by make docs: one block per program
# >>> virtdev-backup
_virtdev_spec_backup() {
    options=(-l --list --latest --json -v --verbose --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(project)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-backup
# >>> virtdev-bootstrap
_virtdev_spec_bootstrap() {
    options=(--suite= --mirror= --color= -h --help)
    valued=' --suite --mirror '
    choices=([--color]='yes no auto')
    args=()
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-bootstrap
# >>> virtdev-console
_virtdev_spec_console() {
    options=(-f --force --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(machine)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-console
# >>> virtdev-create
_virtdev_spec_create() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(new-name)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-create
# >>> virtdev-destroy
_virtdev_spec_destroy() {
    options=(-y --yes --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(project)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-destroy
# >>> virtdev-detach
_virtdev_spec_detach() {
    options=(--in-place -y --yes --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(project)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-detach
# >>> virtdev-disk
_virtdev_spec_disk() {
    options=(--json --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(machine)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-disk
# >>> virtdev-generation
_virtdev_spec_generation() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(project)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-generation
# >>> virtdev-install
_virtdev_spec_install() {
    options=(--timeout= --color= -h --help)
    valued=' --timeout '
    choices=([--color]='yes no auto')
    args=(file)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-install
# >>> virtdev-iso
_virtdev_spec_iso() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=()
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-iso
# >>> virtdev-key
_virtdev_spec_key() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=()
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-key
# >>> virtdev-list
_virtdev_spec_list() {
    options=(--json --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=()
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-list
# >>> virtdev-log
_virtdev_spec_log() {
    options=(-f --follow -n --lines= --color= -h --help)
    valued=' -n --lines '
    choices=([--color]='yes no auto')
    args=(machine)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-log
# >>> virtdev-maintain
_virtdev_spec_maintain() {
    options=(-y --yes --no-provision --no-inventory --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=()
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-maintain
# >>> virtdev-monitor
_virtdev_spec_monitor() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(machine)
    values=()
    rest=text
    passthrough=1
}
# <<< virtdev-monitor
# >>> virtdev-move
_virtdev_spec_move() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(project new-name)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-move
# >>> virtdev-nuke
_virtdev_spec_nuke() {
    options=(-y --yes --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=()
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-nuke
# >>> virtdev-path
_virtdev_spec_path() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(path-target resource)
    values=(['1']='data system-image home-image nvram generation port monitor console events qemu-pid shutdown backups manifest config' ['1:base']='data system-image home-image nvram generation' ['1:maintenance']='data system-image home-image nvram generation')
    rest=
    passthrough=0
}
# <<< virtdev-path
# >>> virtdev-pid
_virtdev_spec_pid() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(machine)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-pid
# >>> virtdev-port
_virtdev_spec_port() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(machine)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-port
# >>> virtdev-recreate
_virtdev_spec_recreate() {
    options=(--no-backup --no-restore --no-provision -p --provision= -y --yes -v --verbose --color= -h --help)
    valued=' -p --provision '
    choices=([--color]='yes no auto')
    args=(project)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-recreate
# >>> virtdev-restore
_virtdev_spec_restore() {
    options=(-v --verbose --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(project snapshot)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-restore
# >>> virtdev-resume
_virtdev_spec_resume() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(machine)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-resume
# >>> virtdev-seal
_virtdev_spec_seal() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=()
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-seal
# >>> virtdev-ssh
_virtdev_spec_ssh() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(machine)
    values=()
    rest=ssh
    passthrough=1
}
# <<< virtdev-ssh
# >>> virtdev-ssh-config
_virtdev_spec_ssh_config() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=()
    values=()
    rest=project
    passthrough=0
}
# <<< virtdev-ssh-config
# >>> virtdev-stale
_virtdev_spec_stale() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=()
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-stale
# >>> virtdev-start
_virtdev_spec_start() {
    options=(--net= --color= -h --help)
    valued=' --net '
    choices=([--net]='none wan full' [--color]='yes no auto')
    args=(project text)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-start
# >>> virtdev-status
_virtdev_spec_status() {
    options=(--json --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(machine)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-status
# >>> virtdev-stop
_virtdev_spec_stop() {
    options=(-f --force --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(machine)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-stop
# >>> virtdev-supervise
_virtdev_spec_supervise() {
    options=(--net= --ssh-port= --color= -h --help)
    valued=' --net --ssh-port '
    choices=([--net]='none wan full' [--color]='yes no auto')
    args=(file)
    values=()
    rest=text
    passthrough=1
}
# <<< virtdev-supervise
# >>> virtdev-transfer
_virtdev_spec_transfer() {
    options=(-v --verbose --color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(machine transfer transfer)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-transfer
# >>> virtdev-upgrade
_virtdev_spec_upgrade() {
    options=(--only= --except= --skip-outdated -y --yes -v --verbose --color= -h --help)
    valued=' --only --except '
    choices=([--color]='yes no auto')
    args=()
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-upgrade
# >>> virtdev-wait
_virtdev_spec_wait() {
    options=(--color= -h --help)
    valued='  '
    choices=([--color]='yes no auto')
    args=(machine)
    values=()
    rest=
    passthrough=0
}
# <<< virtdev-wait
# <<< generated

# Every known program, and any other virtdev-* on PATH when this is loaded.
_virtdev_known_verbs
complete -F _virtdev virtdev "${_virtdev_names[@]/#/virtdev-}" $(compgen -c -- virtdev-)
unset _virtdev_names
