// Command virtdev-generation prints the sealed base's generation, or the
// generation a project was derived from.
//
//	virtdev-generation [OPTIONS] [project]
//
// stdout holds only the generation: a number, or "detached" for a project
// whose disks no longer depend on the base.
package main

import (
	"errors"
	"fmt"

	"virtdev/lib/base"
	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/project"
)

const (
	exitNoProjectGeneration = 10
	exitCorrupt             = 11
)

var command = cli.Command{
	Name:    "virtdev-generation",
	Group:   cli.Inspection,
	Summary: "Print the base generation, or a project's.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgProject, Optional: true}},
	Description: `Without a project, prints the generation of the sealed base: a number
virtdev-seal gives it, above every generation a project records. With one,
prints the generation the project was derived from, or "detached". A
project boots only when the two match (or it is detached).`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "printed"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.Unusable,
		{N: exitNoProjectGeneration, Meaning: "the project has no generation file"},
		{N: exitCorrupt, Meaning: "the project's generation file is corrupt or unreadable"},
		exitcode.Output, exitcode.Config, exitcode.NoBase, exitcode.BaseDamaged, exitcode.HomeUnusable,
	},
	Query: true,
	Run:   run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	l, err := env.Layout()
	if err != nil {
		return err
	}
	if len(args) == 0 {
		g, err := base.Sealed(l)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, g)
		return nil
	}
	name := args[0]
	m, err := project.Find(l, name)
	if err != nil {
		return err
	}
	g, err := project.ReadGeneration(m.Generation, true)
	var corrupt *project.CorruptError
	switch {
	case errors.Is(err, project.ErrNoGeneration):
		return cli.Errorf(exitNoProjectGeneration, "project %q has no generation file %s\nRecreate it on the current base: virtdev-recreate %s", name, m.Generation, name)
	case errors.As(err, &corrupt):
		return cli.Errorf(exitCorrupt, "%s\nIt holds the generation the project was derived from, or \"detached\": restore it, or recreate the project on the current base: virtdev-recreate %s", corrupt, name)
	case err != nil:
		return cli.Wrap(exitCorrupt, err, "cannot read the generation of project %q", name)
	}
	fmt.Fprintln(env.Stdout, g)
	return nil
}
