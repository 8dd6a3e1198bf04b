// Command virtdev-list lists the projects: each one's SSH port, state and
// base generation.
//
//	virtdev-list [OPTIONS]
//
// stdout holds a table, or with --json one JSON document, for scripts and
// the shell completions; the base generation and the reasons behind
// unusual states go to stderr.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"virtdev/lib/base"
	"virtdev/lib/cli"
	"virtdev/lib/egress"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/state"
	"virtdev/lib/term"
)

type options struct {
	JSON bool `long:"json" description:"print one JSON document: the base generation and every column of every project"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-list",
	Group:   cli.Access,
	Summary: "List projects with their port, state, generation and network zone.",
	Options: &opts,
	Description: `Prints a table of the projects, one a line, by name:
  PROJECT     the project's name
  PORT        its SSH port on 127.0.0.1 while its machine runs, else -
  STATUS      what its machine is doing, as virtdev-status says it: running,
              stopped, starting, stopping, paused or failed; unusable for a
              project no program can use (a symbolic link, not a directory)
  GENERATION  the base generation it was derived from, detached for a
              project that no longer depends on the base, - when unknown
  ZONE        its network zone (none, wan or full): the one its machine runs
              in, else the one virtdev-start would choose without --net
The base generation follows on stderr, with the reason for each machine that
is paused or failed, what is wrong with a zone file, and "No projects
found." when there are none.

Colours, under the colour rules of --color (and only when stdout is a
terminal, unless --color=yes): running green, stopped red, paused and
starting or stopping yellow, failed red; a generation other than the base's
red (the project cannot boot until recreated: virtdev-stale lists them),
detached yellow.

systemd is asked about every project's unit at once, and the QEMU of each
machine that runs about its guest, all at the same time, each given a second.

--json prints {"base_generation": N or null, "projects": [{"project",
"state", "qemu", "reason", "port", "generation", "detached", "stale", "zone",
"error"}]}: port and generation are numbers or null, "zone" "" when it
cannot be told (see the warnings on stderr), "qemu" QEMU's own word
for a machine that runs, "stale" as virtdev-stale decides it, "error" why a
project cannot be used or its generation file cannot be read.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "listed (possibly nothing)"},
		exitcode.Output, exitcode.Config, exitcode.NoUserManager, exitcode.HomeUnusable,
	},
	Query: true,
	Run:   run,
}

func main() { cli.Main(command) }

// unusable is the state of a project no program can use.
const unusable = "unusable"

// row is one project, as --json prints it.
type row struct {
	Project string `json:"project"`
	state.State
	Port       *int   `json:"port"`
	Generation *int   `json:"generation"`
	Detached   bool   `json:"detached"`
	Stale      bool   `json:"stale"`
	Zone       string `json:"zone"`
	Error      string `json:"error,omitempty"`
	// zoneWarning says what is wrong with the zone file, for people.
	zoneWarning string
}

type listing struct {
	BaseGeneration *int  `json:"base_generation"`
	Projects       []row `json:"projects"`
}

func run(env *cli.Env, _ []string) error {
	l, err := env.Layout()
	if err != nil {
		return err
	}
	entries, err := project.List(l)
	if err != nil {
		return err
	}
	var current *project.Generation
	switch g, err := base.Sealed(l); exitcode.For(err) {
	case 0:
		current = &g
	case exitcode.NoBase.N:
	case exitcode.HomeUnusable.N:
		return err
	default:
		env.Warnf("%v", err)
	}
	list := listing{Projects: make([]row, len(entries))}
	if current != nil {
		list.BaseGeneration = &current.Number
	}
	var machines []layout.Machine
	var names []string
	var usable []int
	for i, e := range entries {
		r := &list.Projects[i]
		r.Project = e.Name
		if e.Err != nil {
			r.State.State, r.Error = unusable, e.Err.Error()
			continue
		}
		machines = append(machines, l.Project(e.Name))
		names = append(names, e.Name)
		usable = append(usable, i)
	}
	// The generation and zone files are read while systemd and QEMU are
	// asked. The zone is the one virtdev-start would choose, what a
	// machine that does not run shows.
	read := make(chan struct{})
	go func() {
		defer close(read)
		zones, warnings := project.ConfiguredZones(l, names)
		for j, i := range usable {
			generation(machines[j], current, &list.Projects[i])
			list.Projects[i].Zone, list.Projects[i].zoneWarning = string(zones[j]), warnings[j]
		}
	}()
	states, err := state.Read(env.Ctx, machines)
	<-read
	if err != nil {
		return err
	}
	for j, i := range usable {
		r := &list.Projects[i]
		r.State = states[j]
		if r.State.State != state.Stopped {
			if port, err := project.ReadPort(machines[j]); err == nil {
				r.Port = &port
			}
			runningZone(machines[j], r)
		}
	}
	if opts.JSON {
		data, err := json.Marshal(list)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s\n", data)
		return nil
	}
	if len(entries) == 0 {
		env.Infof("No projects found.")
		return nil
	}
	// One write for the table, not one a line.
	out := bufio.NewWriter(env.Stdout)
	table(env, out, list)
	return out.Flush()
}

// generation fills in what r says of the machine's base generation.
func generation(m layout.Machine, current *project.Generation, r *row) {
	g, err := project.ReadGeneration(m.Generation, true)
	switch {
	case errors.Is(err, project.ErrNoGeneration):
		r.Stale = true
	case err != nil:
		r.Error = err.Error()
	default:
		r.Detached = g.Detached
		if !g.Detached {
			r.Generation = &g.Number
		}
		r.Stale = g.Against(current) != project.Current
	}
}

// runningZone replaces the zone virtdev-start would choose, for a machine
// that runs, by the zone it runs in.
func runningZone(m layout.Machine, r *row) {
	switch z, err := project.Zone(m); {
	case err != nil:
		r.Zone, r.zoneWarning = "", err.Error()
	case z != "":
		r.Zone, r.zoneWarning = string(z), ""
	}
}

// table prints the seed's table to out, painted for a terminal.
func table(env *cli.Env, out *bufio.Writer, list listing) {
	p := env.Palette
	if env.Color != term.ModeYes && !term.IsTerminal(os.Stdout) {
		p = &term.Palette{}
	}
	width := len("PROJECT")
	for _, r := range list.Projects {
		width = max(width, len(r.Project))
	}
	// A cell is padded by the length of its text: escape sequences take
	// no room. Written without fmt, whose formatting of a hundred rows
	// was a tenth of a listing's time.
	cell := func(painted string, text, width int) {
		out.WriteString(painted)
		for range max(0, width-text) + 1 {
			out.WriteByte(' ')
		}
	}
	row := func(project, port, status string, statusText int, gen string, genText int, zone string) {
		cell(project, len(project), width)
		cell(port, len(port), 5)
		cell(status, statusText, 8)
		cell(gen, genText, 10)
		out.WriteString(zone)
		out.WriteByte('\n')
	}
	row("PROJECT", "PORT", "STATUS", len("STATUS"), "GENERATION", len("GENERATION"), "ZONE")
	row("-------", "----", "------", len("------"), "----------", len("----------"), "----")
	for _, r := range list.Projects {
		port := "-"
		if r.Port != nil {
			port = strconv.Itoa(*r.Port)
		}
		status := string(r.State.State)
		gen, colour := "-", term.Colour(0)
		switch {
		case r.Detached:
			gen, colour = "detached", term.Yellow
		case r.Generation != nil:
			gen = strconv.Itoa(*r.Generation)
		case r.Error != "" && r.State.State != unusable:
			gen = "?"
		}
		if r.Stale && !r.Detached {
			colour = term.Red
		}
		paintedGen := gen
		if colour != 0 {
			paintedGen = p.Paint(gen, colour, false)
		}
		zone := r.Zone
		switch {
		case r.State.State == unusable:
			zone = "-"
		case zone == "":
			zone = "?"
		case zone == string(egress.Full):
			// The zone that reaches the host's own services stands out.
			zone = p.Paint(zone, term.Yellow, false)
		}
		row(r.Project, port, p.Paint(status, statusColour(r.State.State), false), len(status), paintedGen, len(gen), zone)
	}
	if list.BaseGeneration != nil {
		env.Infof("Base generation: %d", *list.BaseGeneration)
	} else {
		env.Infof("No sealed base.")
	}
	for _, r := range list.Projects {
		switch {
		case r.Error != "":
			env.Warnf("%s: %s", r.Project, r.Error)
		case r.Reason != "":
			env.Infof("%s", r.State.Explain(r.Project))
		}
		if r.zoneWarning != "" {
			env.Warnf("%s: %s", r.Project, r.zoneWarning)
		}
	}
}

func statusColour(w state.Word) term.Colour {
	switch w {
	case state.Running:
		return term.Green
	case state.Stopped, state.Failed, unusable:
		return term.Red
	}
	return term.Yellow
}
