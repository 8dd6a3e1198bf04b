// Command virtdev runs the program behind a verb: virtdev start p is
// virtdev-start p.
//
//	virtdev [OPTIONS] <verb> [args...]
//	virtdev help <verb>
//
// The program is looked up beside virtdev's own executable first, then on
// PATH, and replaces the dispatcher (exec), so exit codes and signals are the
// program's own.
//
// Exit codes: 0 help; 64 no verb, unknown verb or option, invalid verb;
// otherwise the program's.
package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"virtdev/lib/cli"
	"virtdev/lib/dispatch"
	"virtdev/lib/term"
)

var command = cli.Command{
	Name:     "virtdev",
	Synopsis: "<verb> [args...]",
	Summary:  "Run a virtdev program: virtdev <verb> is virtdev-<verb>.",
	Description: `virtdev help <verb> shows the verb's own help. Programs beside this
executable are preferred over those on PATH.

Exit codes: 0 help; 64 no verb, unknown verb or unknown option;
otherwise the exit code of the program run.`,
	PassThrough: true,
	Query:       true, // the program it runs handles signals itself
	Epilogue:    verbList,
	Run:         run,
}

func main() { cli.Main(command) }

func verbList() string {
	verbs := dispatch.Verbs(dispatch.SelfDir(), os.Getenv("PATH"))
	return "Verbs:\n  " + strings.Join(verbs, "\n  ") + "\n"
}

func run(env *cli.Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, verbList())
		return cli.Usage("no verb given")
	}
	verb, rest := args[0], args[1:]
	if verb == "help" {
		if len(rest) != 1 {
			fmt.Fprint(env.Stderr, verbList())
			return cli.Usage("help takes one verb")
		}
		verb, rest = rest[0], []string{"--help"}
	}
	if !dispatch.ValidVerb(verb) {
		return cli.Usage("%q is not a virtdev verb", verb)
	}
	program, ok := dispatch.Find(dispatch.SelfDir(), verb)
	if !ok {
		return cli.Usage("%q is not a virtdev verb: no %s%s beside %s or on PATH\nList the verbs with: virtdev --help",
			verb, dispatch.Prefix, verb, dispatch.SelfDir())
	}
	// virtdev --color=no start p means the same as virtdev-start --color=no p.
	if env.Color != term.ModeAuto {
		rest = append([]string{"--color=" + env.Color}, rest...)
	}
	err := syscall.Exec(program, append([]string{dispatch.Prefix + verb}, rest...), os.Environ())
	return cli.Wrap(cli.ExitFailure, err, "cannot run %s", program)
}
