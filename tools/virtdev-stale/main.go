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
// Everything is checked before anything is printed: a project that cannot
// be used or a generation file that is corrupt fails the whole listing.
package main

import (
	"fmt"

	"virtdev/lib/base"
	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/project"
)

const exitCorruptProject = 10

var command = cli.Command{
	Name:    "virtdev-stale",
	Group:   cli.Inspection,
	Summary: "List projects derived from an older base generation.",
	Description: `Prints one project name per line: those whose generation differs from the
sealed base's, or that have no generation file. Detached projects are never
stale; without a sealed base, every attached project is.

    virtdev-stale | xargs -n1 virtdev-recreate --yes

A project that cannot be used (a symbolic link, not a directory, not
readable) or whose generation file is corrupt fails the listing, and nothing
is printed: a pipeline never acts on part of a list.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "listed (possibly nothing)"},
		exitcode.Unusable,
		{N: exitCorruptProject, Meaning: "a project's generation file is corrupt or unreadable"},
		exitcode.Output, exitcode.Config, exitcode.BaseDamaged, exitcode.HomeUnusable,
	},
	Query: true,
	Run:   run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, _ []string) error {
	l, err := env.Layout()
	if err != nil {
		return err
	}
	var current *project.Generation
	switch g, err := base.Sealed(l); exitcode.For(err) {
	case 0:
		current = &g
	case exitcode.NoBase.N:
		env.Warnf("no sealed base (%s is missing): every attached project is stale", l.System().Dir)
	default:
		return err
	}
	entries, err := project.List(l)
	if err != nil {
		return err
	}
	var stale []string
	for _, e := range entries {
		if e.Err != nil {
			return e.Err
		}
		s, err := project.Stale(l, e.Name, current)
		if err != nil {
			return cli.Errorf(exitCorruptProject, "%v\nRestore the file (it holds the generation project %s was derived from, or \"detached\"), or recreate the project on the current base: virtdev-recreate %s", err, e.Name, e.Name)
		}
		if s != project.Current {
			stale = append(stale, e.Name)
		}
	}
	for _, name := range stale {
		fmt.Fprintln(env.Stdout, name)
	}
	return nil
}
