#compdef virtdev virtdev-bootstrap virtdev-create virtdev-generation virtdev-key virtdev-path virtdev-seal virtdev-ssh virtdev-stale virtdev-start virtdev-stop virtdev-wait

# zsh completion for virtdev(1) and the virtdev-<verb> programs.
#
# Installed as site-functions/_virtdev; compinit reads the #compdef line
# above, so the direct commands complete as well as `virtdev <verb>`.
#
# Verbs. The verbs offered after `virtdev` are the programs this file was
# written with (the #compdef line and _virtdev_known_verbs), plus every other
# executable virtdev-<verb> found the way the dispatcher finds programs:
# beside the virtdev being completed (symbolic links resolved), then on
# PATH. So `./bin/virtdev <TAB>` in a build tree and programs installed later
# both complete. What a verb takes is described below for the known verbs;
# any other verb gets --help and --color only.
#
# Projects are the directory names under
# ${VIRTDEV_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/virtdev}/projects
# that are valid project names (so never a hidden scratch directory).

typeset -ga _virtdev_known_verbs
_virtdev_known_verbs=(bootstrap create generation key path seal ssh stale start stop wait)

(( $+functions[_virtdev_projects] )) ||
_virtdev_projects() {
  local dir=${VIRTDEV_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/virtdev}/projects
  local -a names
  names=( $dir/*(N-/:t) )
  names=( ${(M)names:#[a-zA-Z0-9_-]##} )
  names=( ${names:#maintenance} )
  _wanted projects expl project compadd "$@" -a names
}

# Projects, plus the maintenance machine.
(( $+functions[_virtdev_machines] )) ||
_virtdev_machines() {
  _alternative \
    'projects:project:_virtdev_projects' \
    'machines:machine:(maintenance)'
}

# What virtdev-path accepts as its first argument.
(( $+functions[_virtdev_path_names] )) ||
_virtdev_path_names() {
  _alternative \
    'projects:project:_virtdev_projects' \
    'bases:base:((base\:"the sealed base" maintenance\:"the maintenance staging copy"))'
}

(( $+functions[_virtdev_resources] )) ||
_virtdev_resources() {
  local -a resources
  resources=(
    'data:the directory'
    'system-image:the system disk'
    'home-image:the home disk'
    'nvram:the UEFI variable store'
    'generation:the base generation file'
  )
  if [[ $line[1] != (base|maintenance) ]]; then
    resources+=(
      'port:the SSH port file (exists while the VM runs)'
      'monitor:the QMP socket'
      'console:the serial console socket'
      'backups:the backup snapshots directory'
      'manifest:the backup manifest in force'
      'config:the configuration directory'
    )
  fi
  _describe -t resources resource resources
}

(( $+functions[_virtdev_verbs] )) ||
_virtdev_verbs() {
  local self=$words[1] dir
  local -a verbs found
  verbs=( $_virtdev_known_verbs )
  # Beside the dispatcher, links resolved, as the dispatcher looks first.
  if [[ $self == */* ]]; then
    dir=${self/#\~/$HOME}
  else
    dir=$commands[$self]
  fi
  if [[ -n $dir ]]; then
    found=( ${dir:h}/virtdev-*(N-*:t) ${dir:A:h}/virtdev-*(N-*:t) )
    verbs+=( ${found#virtdev-} )
  fi
  # Then on PATH.
  verbs+=( ${${(k)commands[(I)virtdev-*]}#virtdev-} )
  verbs=( ${(u)verbs:#(|-*|*/*|.|..)} )
  _wanted verbs expl verb compadd "$@" -a verbs
}

# _virtdev_verb VERB: complete the options and arguments of virtdev-VERB;
# words[1] is the program or the verb.
(( $+functions[_virtdev_verb] )) ||
_virtdev_verb() {
  local -a common
  common=(
    '(- *)'{-h,--help}'[show the help and exit codes]'
    '--color=-[colour messages on stderr]::when:(yes no auto)'
  )
  case $1 in
    bootstrap)
      _arguments -s -S $common \
        '--suite=[Debian release to install (default: bookworm)]:suite: ' \
        "--mirror=[mirror to install from (default: Debian's)]:mirror URL:_urls"
      ;;
    create)
      _arguments -s -S $common ':new project name: '
      ;;
    generation)
      _arguments -s -S $common '::project:_virtdev_projects'
      ;;
    path)
      _arguments -s -S $common \
        ':project:_virtdev_path_names' \
        '::resource:_virtdev_resources'
      ;;
    ssh)
      # Everything after the project goes to ssh.
      _arguments -s -S -A '-*' $common \
        ':machine:_virtdev_machines' \
        '*::ssh argument: '
      ;;
    start)
      _arguments -s -S $common ':project:_virtdev_projects' '::port: '
      ;;
    stop|wait)
      _arguments -s -S $common ':machine:_virtdev_machines'
      ;;
    key|seal|stale)
      _arguments -s -S $common
      ;;
    *)
      # A verb this file does not know: its arguments are unknown too.
      _arguments -s -S $common '*:: :_default'
      ;;
  esac
}

_virtdev() {
  local curcontext=$curcontext state state_descr line ret=1
  local -A opt_args

  if [[ $service == virtdev-* ]]; then
    _virtdev_verb ${service#virtdev-}
    return
  fi

  _arguments -C -A '-*' \
    '(- *)'{-h,--help}'[show the help and the verbs]' \
    '--color=-[colour messages on stderr]::when:(yes no auto)' \
    '1:verb:->verb' \
    '*:: :->args' && ret=0

  case $state in
    verb)
      _alternative \
        'verbs:verb:_virtdev_verbs' \
        'help:help:((help\:"show the help of a verb"))' && ret=0
      ;;
    args)
      curcontext=${curcontext%:*:*}:virtdev-$words[1]:
      if [[ $words[1] == help ]]; then
        (( CURRENT == 2 )) && _virtdev_verbs && ret=0
      else
        _virtdev_verb $words[1] && ret=0
      fi
      ;;
  esac
  return ret
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  # Autoloaded as _virtdev by compinit.
  _virtdev "$@"
else
  # Sourced by hand.
  compdef _virtdev virtdev virtdev-${^_virtdev_known_verbs}
fi
