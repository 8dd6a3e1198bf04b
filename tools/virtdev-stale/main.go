// Command virtdev-stale lists the projects that cannot boot on the current
// sealed base because they were derived from another generation.
//
//	virtdev-stale [OPTIONS]
//
// stdout holds one project name per line, nothing when all are current, for
// loops and xargs:
//
//	virtdev-stale | xargs -n1 virtdev-recreate --yes
//
// Detached projects are never stale. Without a sealed base every project is.
//
// Exit codes: 0 listed; 3 the base's generation file is corrupt; 4 a
// project's generation file is corrupt; 64 usage; 81 bad configuration.
package main

import (
	"errors"
	"fmt"

	"virtdev/lib/cli"
	"virtdev/lib/project"
)

const (
	exitCorruptBase    = 3
	exitCorruptProject = 4
)

var command = cli.Command{
	Name:    "virtdev-stale",
	Summary: "List projects derived from an older base generation.",
	Description: `Prints one project name per line: those whose generation differs from the
sealed base's, or that have no generation file. Detached projects are never
stale; without a sealed base, every attached project is.

    virtdev-stale | xargs -n1 virtdev-recreate --yes

Exit codes: 0 listed (possibly nothing); 3 the base's generation file is
corrupt; 4 a project's generation file is corrupt; 64 usage;
81 malformed environment variable.`,
	Query: true,
	Run:   run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	if err := cli.Positionals(args, 0, 0); err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	var base *project.Generation
	switch g, err := project.ReadGeneration(l.System().Generation, false); {
	case errors.Is(err, project.ErrNoGeneration):
		env.Warnf("no sealed base (%s is missing): every attached project is stale", l.System().Generation)
	case err != nil:
		return cli.Errorf(exitCorruptBase, "%s\nThe sealed base is damaged; restore the file or rebuild the base.", err)
	default:
		base = &g
	}
	names, err := project.List(l)
	if err != nil {
		return cli.Wrap(cli.ExitFailure, err, "cannot list projects in %s", l.Projects())
	}
	// Everything is checked before anything is printed, so a pipeline never
	// acts on part of a list that ends in an error.
	var stale []string
	for _, name := range names {
		s, err := project.Stale(l, name, base)
		if err != nil {
			return cli.Errorf(exitCorruptProject, "%s\nFix the file, or recreate the project: virtdev-recreate %s", err, name)
		}
		if s != project.Current {
			stale = append(stale, name)
		}
	}
	for _, name := range stale {
		fmt.Fprintln(env.Stdout, name)
	}
	return nil
}
