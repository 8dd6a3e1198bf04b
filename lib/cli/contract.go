package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/jessevdk/go-flags"

	"virtdev/lib/exitcode"
)

// Group is where a program belongs in virtdev --help, as the seed's README
// groups its commands.
type Group string

const (
	Setup      Group = "setup"
	Lifecycle  Group = "lifecycle"
	Access     Group = "access"
	Inspection Group = "inspection"
	Backup     Group = "backup"
	// Internal programs are run by other programs, not by people.
	Internal Group = "internal"
)

// Groups is the order virtdev --help lists the groups in, with their titles.
var Groups = []struct {
	Group Group
	Title string
}{
	{Setup, "Setup"},
	{Lifecycle, "Project lifecycle"},
	{Access, "Access"},
	{Inspection, "Inspection"},
	{Backup, "Backup"},
}

// ArgKind tells completions what a positional argument holds.
type ArgKind string

const (
	ArgProject    ArgKind = "project"     // an existing project
	ArgMachine    ArgKind = "machine"     // an existing project, or maintenance
	ArgPathTarget ArgKind = "path-target" // a project, base or maintenance
	ArgNewName    ArgKind = "new-name"    // a name for a project to be
	ArgResource   ArgKind = "resource"    // one of Values
	ArgSnapshot   ArgKind = "snapshot"    // a snapshot id of the project before it
	ArgFile       ArgKind = "file"        // a host path
	ArgTransfer   ArgKind = "transfer"    // a host path, or :path in the guest
	ArgSSH        ArgKind = "ssh"         // arguments handed to ssh
	ArgVerb       ArgKind = "verb"        // a virtdev verb
	ArgText       ArgKind = "text"        // anything else (a port, a command)
)

// Arg is one positional argument.
type Arg struct {
	Name     string
	Kind     ArgKind
	Optional bool
	Repeat   bool     // it may be given any number of times (it is last)
	Values   []string `json:",omitempty"` // for ArgResource: every value
	// ValuesFor narrows Values by the argument before this one.
	ValuesFor map[string][]string `json:",omitempty"`
}

func (a Arg) synopsis() string {
	name := a.Name
	if a.Repeat {
		name += "..."
	}
	if a.Optional {
		return "[" + name + "]"
	}
	return "<" + name + ">"
}

// Synopsis is the arguments part of the usage line: "<project> [port]".
func (c Command) Synopsis() string {
	parts := make([]string, len(c.Args))
	for i, a := range c.Args {
		parts[i] = a.synopsis()
	}
	return strings.Join(parts, " ")
}

// ExitCodes is the program's whole table, in numeric order: its own codes
// and the universal ones.
func (c Command) ExitCodes() []exitcode.Code {
	codes := append(slices.Clone(c.Codes), exitcode.Universal...)
	slices.SortStableFunc(codes, func(a, b exitcode.Code) int { return a.N - b.N })
	return slices.CompactFunc(codes, func(a, b exitcode.Code) bool { return a.N == b.N })
}

// Declares reports whether code is in the program's table.
func (c Command) Declares(code int) bool {
	return slices.ContainsFunc(c.ExitCodes(), func(e exitcode.Code) bool { return e.N == code })
}

// checkArgs holds the positionals to the declaration, before Run.
func (c Command) checkArgs(args []string) error {
	required, repeat := 0, false
	for _, a := range c.Args {
		if !a.Optional {
			required++
		}
		repeat = repeat || a.Repeat
	}
	switch {
	case len(args) < required:
		return Usage("missing argument: %s", c.Args[len(args)].synopsis())
	case !repeat && len(args) > len(c.Args):
		return Usage("unexpected argument %q", args[len(c.Args)])
	}
	return nil
}

// Option is one flag as the contract shows it.
type Option struct {
	Short       string   `json:",omitempty"`
	Long        string   `json:",omitempty"`
	Value       string   `json:",omitempty"` // the value's name; empty for a switch
	Optional    bool     `json:",omitempty"` // the value may be left out (--color)
	Choices     []string `json:",omitempty"`
	Default     string   `json:",omitempty"`
	Description string
}

// Contract is a program's declaration as data.
type Contract struct {
	Name        string
	Group       Group
	Summary     string
	Synopsis    string
	Args        []Arg
	Options     []Option // the program's own, then the common ones
	Codes       []exitcode.Code
	PassThrough bool `json:",omitempty"`
}

// Contract returns the program's declaration as data.
func (c Command) Contract() Contract {
	var common Common
	return c.contract(c.parser(&common))
}

func (c Command) contract(parser *flags.Parser) Contract {
	k := Contract{
		Name: c.Name, Group: c.Group, Summary: c.Summary, Synopsis: c.Synopsis(),
		Args: c.Args, Codes: c.ExitCodes(), PassThrough: c.PassThrough,
	}
	if k.Args == nil {
		k.Args = []Arg{}
	}
	for _, g := range parser.Groups() {
		// go-flags adds its help group only once parsing starts; it is
		// listed below, the same way whenever the contract is asked for.
		if g.ShortDescription == "Help Options" {
			continue
		}
		for _, o := range g.Options() {
			if o.Hidden {
				continue
			}
			opt := Option{Long: o.LongName, Description: o.Description, Choices: o.Choices, Default: strings.Join(o.Default, " ")}
			if o.ShortName != 0 {
				opt.Short = string(o.ShortName)
			}
			if o.Field().Type.Kind() != reflect.Bool {
				opt.Value = o.ValueName
				if opt.Value == "" {
					opt.Value = "VALUE"
				}
				opt.Optional = o.OptionalArgument
			}
			k.Options = append(k.Options, opt)
		}
	}
	k.Options = append(k.Options, Option{Short: "h", Long: "help", Description: "print the usage, the description and the exit codes, and exit 0"})
	return k
}

func (c Command) writeContract(w io.Writer, parser *flags.Parser) error {
	data, err := json.MarshalIndent(c.contract(parser), "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode the contract: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}
