# bash completion for virtdev(1) and the virtdev-<verb> programs.
#
# Installed as bash-completion/completions/virtdev, with a symbolic link
# named after each program (virtdev-start -> virtdev, ...), so that
# bash-completion's on-demand loader finds this file for the direct commands
# too. It does not need bash-completion: sourcing it is enough.
#
# Verbs. The verbs offered after `virtdev` are the programs this file was
# written with (_virtdev_known_verbs, installed together with it), plus every
# other executable virtdev-<verb> found the way the dispatcher finds
# programs: beside the virtdev being completed (symbolic links resolved),
# then on PATH. So `./bin/virtdev <TAB>` in a build tree and programs
# installed later both complete. What a verb takes is described below for
# the known verbs; any other verb gets --help and --color only.
#
# Projects are the directory names under
# ${VIRTDEV_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/virtdev}/projects
# that are valid project names (so never a hidden scratch directory).

_virtdev_known_verbs=(bootstrap create generation key path seal ssh stale start stop wait)

# Resources virtdev-path knows, for a project and for base/maintenance.
_virtdev_project_resources=(data system-image home-image nvram generation port monitor console backups manifest config)
_virtdev_base_resources=(data system-image home-image nvram generation)

# _virtdev_projects: the project names, in the array _virtdev_names.
_virtdev_projects() {
    local dir=${VIRTDEV_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/virtdev}/projects
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
    for v in "${_virtdev_known_verbs[@]}"; do seen[$v]=1; done
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

# _virtdev_args VERB FIRST: complete the arguments of virtdev-VERB, whose
# own arguments start at words[FIRST].
_virtdev_args() {
    local verb=$1 first=$2 j w ddash=0 value=0
    local -a positionals=()
    local -a options=(-h --help --color=)
    local valued=' '
    case $verb in
    bootstrap)
        options+=(--suite= --mirror=)
        valued=' --suite --mirror '
        ;;
    esac
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
            # virtdev-ssh hands everything after the project to ssh.
            [[ $verb == ssh ]] && ddash=1
        fi
    done
    # The value of --suite or --mirror given as a separate word: free text.
    ((value)) && return 0

    if ((!ddash)) && [[ $cur == -* ]]; then
        case $cur in
        --color=*) _virtdev_add "$cur" --color=yes --color=no --color=auto ;;
        --*=*) ;;
        *) _virtdev_add "$cur" "${options[@]}" ;;
        esac
        return 0
    fi

    if [[ " ${_virtdev_known_verbs[*]} " != *" $verb "* ]]; then
        # A verb this file does not know: its arguments are unknown too.
        compopt -o default 2>/dev/null
        return 0
    fi
    case $verb:${#positionals[@]} in
    generation:0 | start:0)
        _virtdev_projects
        _virtdev_add "$cur" "${_virtdev_names[@]}"
        ;;
    ssh:0 | stop:0 | wait:0)
        _virtdev_projects
        _virtdev_add "$cur" "${_virtdev_names[@]}" maintenance
        ;;
    path:0)
        _virtdev_projects
        _virtdev_add "$cur" "${_virtdev_names[@]}" base maintenance
        ;;
    path:1)
        case ${positionals[0]} in
        base | maintenance) _virtdev_add "$cur" "${_virtdev_base_resources[@]}" ;;
        *) _virtdev_add "$cur" "${_virtdev_project_resources[@]}" ;;
        esac
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

# Every known program, and any other virtdev-* on PATH when this is loaded.
complete -F _virtdev virtdev "${_virtdev_known_verbs[@]/#/virtdev-}" $(compgen -c -- virtdev-)
