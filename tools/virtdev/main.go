// Command virtdev runs the program behind a verb: virtdev start p is
// virtdev-start p.
//
//	virtdev [OPTIONS] <verb> [args...]
//	virtdev help <verb>
//
// The program is looked up beside virtdev's own executable first, then on
// PATH, and replaces the dispatcher (exec), so exit codes and signals are the
// program's own. --help lists the verbs, grouped, with the summary each
// program gives of itself.
package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"virtdev/lib/cli"
	"virtdev/lib/dispatch"
	"virtdev/lib/exitcode"
	"virtdev/lib/term"
)

var command = cli.Command{
	Name:    "virtdev",
	Summary: "Run a virtdev program: virtdev <verb> is virtdev-<verb>.",
	Description: `virtdev help <verb> shows the verb's own help. Programs beside this
executable are preferred over those on PATH. Options before the verb are
virtdev's own; --color is handed on to the program.

Apart from the codes below, the exit status is the program's.`,
	Args: []cli.Arg{
		{Name: "verb", Kind: cli.ArgVerb},
		{Name: "args", Kind: cli.ArgText, Optional: true, Repeat: true},
	},
	Codes:       []exitcode.Code{{N: 0, Meaning: "help printed (otherwise the program's own status)"}},
	PassThrough: true,
	Query:       true, // the program it runs handles signals itself
	Epilogue:    verbTable,
	Run:         run,
}

func main() { cli.Main(command) }

// verbTable lists the verbs by group, each with its summary.
func verbTable() string {
	self := dispatch.SelfDir()
	programs := dispatch.Describe(self, dispatch.Verbs(self, os.Getenv("PATH")))
	width := 0
	for _, p := range programs {
		width = max(width, len(p.Verb))
	}
	var b strings.Builder
	section := func(title string, keep func(dispatch.Program) bool) {
		first := true
		for _, p := range programs {
			if !keep(p) {
				continue
			}
			if first {
				fmt.Fprintf(&b, "%s:\n", title)
				first = false
			}
			fmt.Fprintf(&b, "%s\n", strings.TrimRight(fmt.Sprintf("  %-*s  %s", width, p.Verb, p.Summary), " "))
		}
		if !first {
			b.WriteString("\n")
		}
	}
	known := map[cli.Group]bool{cli.Internal: true}
	for _, g := range cli.Groups {
		known[g.Group] = true
		section(g.Title, func(p dispatch.Program) bool { return p.Group == g.Group })
	}
	section("Other programs", func(p dispatch.Program) bool { return !known[p.Group] })
	return strings.TrimSuffix(b.String(), "\n")
}

func run(env *cli.Env, args []string) error {
	verb, rest := args[0], args[1:]
	if verb == "help" {
		if len(rest) != 1 {
			return cli.Errorf(exitcode.Usage.N, "help takes one verb: virtdev help <verb>\nList the verbs with: virtdev --help")
		}
		verb, rest = rest[0], []string{"--help"}
	}
	if !dispatch.ValidVerb(verb) {
		return cli.Errorf(exitcode.Usage.N, "%q is not a virtdev verb\nList the verbs with: virtdev --help", verb)
	}
	program, ok := dispatch.Find(dispatch.SelfDir(), verb)
	if !ok {
		return cli.Errorf(exitcode.Usage.N, "%q is not a virtdev verb: no %s%s beside %s or on PATH\nList the verbs with: virtdev --help",
			verb, dispatch.Prefix, verb, dispatch.SelfDir())
	}
	// virtdev --color=no start p means the same as virtdev-start --color=no p.
	if env.Color != term.ModeAuto {
		rest = append([]string{"--color=" + env.Color}, rest...)
	}
	err := syscall.Exec(program, append([]string{dispatch.Prefix + verb}, rest...), os.Environ())
	return fmt.Errorf("cannot run %s: %w", program, err)
}
