#compdef virtdev virtdev-backup virtdev-bootstrap virtdev-console virtdev-create virtdev-destroy virtdev-detach virtdev-disk virtdev-generation virtdev-install virtdev-iso virtdev-key virtdev-list virtdev-log virtdev-maintain virtdev-monitor virtdev-move virtdev-nuke virtdev-path virtdev-pid virtdev-port virtdev-recreate virtdev-restore virtdev-resume virtdev-seal virtdev-ssh virtdev-ssh-config virtdev-stale virtdev-start virtdev-status virtdev-stop virtdev-supervise virtdev-transfer virtdev-upgrade virtdev-wait

# zsh completion for virtdev(1) and the virtdev-<verb> programs.
#
# Installed as site-functions/_virtdev; compinit reads the #compdef line
# above, so the direct commands complete as well as `virtdev <verb>`.
#
# Verbs. The verbs offered after `virtdev` are the programs this file was
# written with (the #compdef line, and one _virtdev_spec_<verb> function
# each, generated from the programs' declarations by `make docs`), plus every other
# executable virtdev-<verb> found the way the dispatcher finds programs:
# beside the virtdev being completed (symbolic links resolved), then on
# PATH. So `./bin/virtdev <TAB>` in a build tree and programs installed later
# both complete. A verb without a spec gets --help, --color and file names.
#
# Projects are the directory names under
# ${VIRTDEV_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/virtdev}/projects
# that are valid project names (so never a hidden scratch directory).

# The verbs with a spec.
(( $+functions[_virtdev_known_verbs] )) ||
_virtdev_known_verbs() {
  reply=( ${${(k)functions[(I)_virtdev_spec_*]}#_virtdev_spec_} )
  reply=( ${reply//_/-} )
}

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

# _virtdev_pick PREVIOUS KEY=VALUES...: the values listed for the argument
# before this one (PREVIOUS), else those listed with an empty key.
(( $+functions[_virtdev_pick] )) ||
_virtdev_pick() {
  local previous=$1 set chosen
  shift
  for set in "$@"; do
    [[ ${set%%=*} == '' && -z $chosen ]] && chosen=${set#*=}
  done
  for set in "$@"; do
    [[ -n $previous && ${set%%=*} == $previous ]] && chosen=${set#*=}
  done
  _wanted values expl value compadd -- ${=chosen}
}

# _virtdev_snapshots PROJECT: the project's snapshot ids (date/time); an
# unfinished (.partial) one is no snapshot.
(( $+functions[_virtdev_snapshots] )) ||
_virtdev_snapshots() {
  local dir=${VIRTDEV_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/virtdev}/backups/$1
  local -a ids
  [[ $1 == [a-zA-Z0-9_]## || $1 == [a-zA-Z0-9_][a-zA-Z0-9_-]## ]] || return 1
  ids=( $dir/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]/[0-9][0-9]-[0-9][0-9]-[0-9][0-9](N-/) )
  ids=( ${ids#$dir/} )
  _wanted snapshots expl snapshot compadd -a ids
}

# A host path, or :path in the guest (nothing to complete there).
(( $+functions[_virtdev_transfer] )) ||
_virtdev_transfer() {
  [[ $PREFIX == :* ]] && return 1
  _files
}

(( $+functions[_virtdev_verbs] )) ||
_virtdev_verbs() {
  local self=$words[1] dir
  local -a verbs found reply
  _virtdev_known_verbs
  verbs=( $reply )
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
  if (( $+functions[_virtdev_spec_${1//-/_}] )); then
    _virtdev_spec_${1//-/_}
  else
    # A verb this file does not know: its arguments are unknown too.
    _arguments -s -S : \
      '(- *)'{-h,--help}'[show the help and exit codes]' \
      '--color=-[colour messages on stderr]::when:(yes no auto)' \
      '*:: :_default'
  fi
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

# >>> generated by make docs: one block per program
# >>> virtdev-backup
_virtdev_spec_backup() {
  _arguments -s -S : \
    '(-l --list)'{-l,--list}'[list the project'\''s snapshots instead (the machine need not run)]' \
    '--latest[print the newest snapshot'\''s id (YYYY-MM-DD/HH-MM-SS) instead]' \
    '--json[with --list\: print the snapshots as JSON]' \
    '(-v --verbose)'{-v,--verbose}'[show rsync'\''s progress even when standard error is not a terminal]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_projects'
}
# <<< virtdev-backup
# >>> virtdev-bootstrap
_virtdev_spec_bootstrap() {
  _arguments -s -S : \
    '--suite=[Debian release to install; default bookworm]:suite: ' \
    '--mirror=[mirror to install from, e.g. a local one (default\: Debian'\''s)]:url: ' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]'
}
# <<< virtdev-bootstrap
# >>> virtdev-console
_virtdev_spec_console() {
  _arguments -s -S : \
    '(-f --force)'{-f,--force}'[attach without a terminal\: relay standard input and output as they are]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines'
}
# <<< virtdev-console
# >>> virtdev-create
_virtdev_spec_create() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project: '
}
# <<< virtdev-create
# >>> virtdev-destroy
_virtdev_spec_destroy() {
  _arguments -s -S : \
    '(-y --yes)'{-y,--yes}'[destroy without asking (needed when standard input is not a terminal)]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_projects'
}
# <<< virtdev-destroy
# >>> virtdev-detach
_virtdev_spec_detach() {
  _arguments -s -S : \
    '--in-place[rebase the existing images instead of converting copies\: less disk space, no rollback if interrupted]' \
    '(-y --yes)'{-y,--yes}'[detach without asking (needed when standard input is not a terminal)]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_projects'
}
# <<< virtdev-detach
# >>> virtdev-disk
_virtdev_spec_disk() {
  _arguments -s -S : \
    '--json[print one JSON object\: the project, whether it is detached, and each disk'\''s sizes and backing file]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines'
}
# <<< virtdev-disk
# >>> virtdev-generation
_virtdev_spec_generation() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    '::project:_virtdev_projects'
}
# <<< virtdev-generation
# >>> virtdev-install
_virtdev_spec_install() {
  _arguments -s -S : \
    '--timeout=[stop an installation that has not finished after DURATION (such as 90m); 0 waits as long as it takes; default 2h]:duration: ' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    '::iso:_files'
}
# <<< virtdev-install
# >>> virtdev-iso
_virtdev_spec_iso() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]'
}
# <<< virtdev-iso
# >>> virtdev-key
_virtdev_spec_key() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]'
}
# <<< virtdev-key
# >>> virtdev-list
_virtdev_spec_list() {
  _arguments -s -S : \
    '--json[print one JSON document\: the base generation and every column of every project]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]'
}
# <<< virtdev-list
# >>> virtdev-log
_virtdev_spec_log() {
  _arguments -s -S : \
    '(-f --follow)'{-f,--follow}'[show new entries as they come, until interrupted]' \
    '(-n --lines)'{-n+,--lines=}'[show only the last N entries]:n: ' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines'
}
# <<< virtdev-log
# >>> virtdev-maintain
_virtdev_spec_maintain() {
  _arguments -s -S : \
    '(-y --yes)'{-y,--yes}'[reseal without asking once the guest has powered off and sealed itself]' \
    '--no-provision[run neither the provision hook nor VIRTDEV_SCRIPT]' \
    '--no-inventory[run no inventory hook]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]'
}
# <<< virtdev-maintain
# >>> virtdev-monitor
_virtdev_spec_monitor() {
  _arguments -s -S -A '-*' : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines' \
    '*::command: '
}
# <<< virtdev-monitor
# >>> virtdev-move
_virtdev_spec_move() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':old-name:_virtdev_projects' \
    ':new-name: '
}
# <<< virtdev-move
# >>> virtdev-nuke
_virtdev_spec_nuke() {
  _arguments -s -S : \
    '(-y --yes)'{-y,--yes}'[delete without asking (needed when standard input is not a terminal)]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]'
}
# <<< virtdev-nuke
# >>> virtdev-path
_virtdev_spec_path() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_path_names' \
    '::resource:{_virtdev_pick "${line[1]}" "=data system-image home-image nvram generation port monitor console events qemu-pid shutdown backups manifest config" "base=data system-image home-image nvram generation" "maintenance=data system-image home-image nvram generation"}'
}
# <<< virtdev-path
# >>> virtdev-pid
_virtdev_spec_pid() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines'
}
# <<< virtdev-pid
# >>> virtdev-port
_virtdev_spec_port() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines'
}
# <<< virtdev-port
# >>> virtdev-recreate
_virtdev_spec_recreate() {
  _arguments -s -S : \
    '--no-backup[take no snapshot first; restore the newest existing one, if any]' \
    '--no-restore[restore nothing into the new machine]' \
    '--no-provision[run no provision script]' \
    '(-p --provision)'{-p+,--provision=}'[run this provision script instead of the project'\''s own]:path: ' \
    '(-y --yes)'{-y,--yes}'[recreate without asking (needed when standard input is not a terminal)]' \
    '(-v --verbose)'{-v,--verbose}'[show rsync'\''s progress even when standard error is not a terminal]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_projects'
}
# <<< virtdev-recreate
# >>> virtdev-restore
_virtdev_spec_restore() {
  _arguments -s -S : \
    '(-v --verbose)'{-v,--verbose}'[show rsync'\''s progress even when standard error is not a terminal]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_projects' \
    '::snapshot:{_virtdev_snapshots "${line[1]}"}'
}
# <<< virtdev-restore
# >>> virtdev-resume
_virtdev_spec_resume() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines'
}
# <<< virtdev-resume
# >>> virtdev-seal
_virtdev_spec_seal() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]'
}
# <<< virtdev-seal
# >>> virtdev-ssh
_virtdev_spec_ssh() {
  _arguments -s -S -A '-*' : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines' \
    '*::ssh-argument:_default'
}
# <<< virtdev-ssh
# >>> virtdev-ssh-config
_virtdev_spec_ssh_config() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    '*::project:_virtdev_projects'
}
# <<< virtdev-ssh-config
# >>> virtdev-stale
_virtdev_spec_stale() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]'
}
# <<< virtdev-stale
# >>> virtdev-start
_virtdev_spec_start() {
  _arguments -s -S : \
    '--net=[the network zone\: none, wan or full (default\: the project'\''s net file, else wan)]:zone:(none wan full)' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_projects' \
    '::port: '
}
# <<< virtdev-start
# >>> virtdev-status
_virtdev_spec_status() {
  _arguments -s -S : \
    '--json[print one JSON object\: the project, its state, QEMU'\''s status and the reason]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines'
}
# <<< virtdev-status
# >>> virtdev-stop
_virtdev_spec_stop() {
  _arguments -s -S : \
    '(-f --force)'{-f,--force}'[send QEMU SIGTERM at once, without pressing the power button\: the guest does not shut down cleanly]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines'
}
# <<< virtdev-stop
# >>> virtdev-supervise
_virtdev_spec_supervise() {
  _arguments -s -S -A '-*' : \
    '--net=[the machine'\''s network zone\: none, wan or full]:zone:(none wan full)' \
    '--ssh-port=[the port on 127.0.0.1 forwarded to the guest'\''s SSH server (without it, none is)]:port: ' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':qemu:_files' \
    '*::argument: '
}
# <<< virtdev-supervise
# >>> virtdev-transfer
_virtdev_spec_transfer() {
  _arguments -s -S : \
    '(-v --verbose)'{-v,--verbose}'[show the progress and name every file, even when stderr is not a terminal]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines' \
    ':source:_virtdev_transfer' \
    ':destination:_virtdev_transfer'
}
# <<< virtdev-transfer
# >>> virtdev-upgrade
_virtdev_spec_upgrade() {
  _arguments -s -S : \
    '--only=[upgrade only these projects (comma-separated)]:projects: ' \
    '--except=[upgrade every project but these (comma-separated)]:projects: ' \
    '--skip-outdated[leave out the projects that are stopped and already derived from another base]' \
    '(-y --yes)'{-y,--yes}'[upgrade without asking; handed on to virtdev-maintain]' \
    '(-v --verbose)'{-v,--verbose}'[show rsync'\''s progress even when standard error is not a terminal]' \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]'
}
# <<< virtdev-upgrade
# >>> virtdev-wait
_virtdev_spec_wait() {
  _arguments -s -S : \
    '--color=-[colour messages on stderr\: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes; default auto]::when:(yes no auto)' \
    '(- *)'{-h,--help}'[print the usage, the description and the exit codes, and exit 0]' \
    ':project:_virtdev_machines'
}
# <<< virtdev-wait
# <<< generated

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  # Autoloaded as _virtdev by compinit.
  _virtdev "$@"
else
  # Sourced by hand.
  () {
    local -a reply
    _virtdev_known_verbs
    compdef _virtdev virtdev virtdev-${^reply}
  }
fi
