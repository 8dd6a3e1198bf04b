// Command virtdev-generation prints the sealed base's generation, or the
// generation a project was derived from.
//
//	virtdev-generation [OPTIONS] [project]
//
// stdout holds only the generation: a number, or "detached" for a project
// whose disks no longer depend on the base.
//
// Exit codes: 0 printed; 2 invalid project name; 3 project not found;
// 4 no sealed base; 5 the project has no generation file; 6 a generation
// file is corrupt; 64 usage; 81 bad configuration.
package main

import (
	"errors"
	"fmt"

	"virtdev/lib/cli"
	"virtdev/lib/project"
	"virtdev/lib/validate"
)

const (
	exitNoProject           = 3
	exitNoBase              = 4
	exitNoProjectGeneration = 5
	exitCorrupt             = 6
)

var command = cli.Command{
	Name:     "virtdev-generation",
	Synopsis: "[project]",
	Summary:  "Print the base generation, or a project's.",
	Description: `Without a project, prints the generation of the sealed base: a number
virtdev-seal gives it, above every generation a project records. With one,
prints the generation the project was derived from, or "detached". A
project boots only when the two match (or it is detached).

Exit codes: 0 printed; 2 invalid project name; 3 project not found;
4 no sealed base; 5 the project has no generation file; 6 a generation
file is corrupt; 64 usage; 81 malformed environment variable.`,
	Query: true,
	Run:   run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	if err := cli.Positionals(args, 0, 1); err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	if len(args) == 0 {
		g, err := project.ReadGeneration(l.System().Generation, false)
		if errors.Is(err, project.ErrNoGeneration) {
			return cli.Errorf(exitNoBase, "no sealed base: %s does not exist\nBuild and seal one: virtdev-bootstrap && virtdev-seal", l.System().Generation)
		}
		if err != nil {
			return corrupt(err)
		}
		fmt.Fprintln(env.Stdout, g)
		return nil
	}
	name := args[0]
	if err := validate.ProjectName(name); err != nil {
		return err
	}
	if !project.Exists(l, name) {
		return cli.Errorf(exitNoProject, "project %q not found (no directory %s)\nList projects with: virtdev-list", name, l.Project(name).Dir)
	}
	g, err := project.ReadGeneration(l.Project(name).Generation, true)
	if errors.Is(err, project.ErrNoGeneration) {
		return cli.Errorf(exitNoProjectGeneration, "project %q has no generation file %s\nRecreate it on the current base: virtdev-recreate %s", name, l.Project(name).Generation, name)
	}
	if err != nil {
		return corrupt(err)
	}
	fmt.Fprintln(env.Stdout, g)
	return nil
}

func corrupt(err error) error {
	var c *project.CorruptError
	if errors.As(err, &c) {
		return cli.Errorf(exitCorrupt, "%s\nA generation file holds one positive number (or \"detached\" for a project). Restore it, or recreate the project: virtdev-recreate <project>", c)
	}
	return cli.Wrap(cli.ExitFailure, err, "cannot read a generation")
}
