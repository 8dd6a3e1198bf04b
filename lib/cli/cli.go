// Package cli is the frame every virtdev program runs in: GNU-style flags
// through go-flags, the universal --help and --color, usage errors, and one
// place that turns an error into stderr text and an exit status.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/jessevdk/go-flags"

	"virtdev/lib/config"
	"virtdev/lib/layout"
	"virtdev/lib/prompt"
	"virtdev/lib/term"
)

// Command describes one program.
type Command struct {
	Name        string // virtdev-path
	Synopsis    string // arguments after [OPTIONS], e.g. "<project> [resource]"
	Summary     string // one line: what the program does
	Description string // the rest of --help: behaviour, exit codes
	Options     any    // pointer to the program's go-flags struct, or nil
	// PassThrough stops flag parsing at the first positional argument, for
	// programs that hand the rest of the line to another program.
	PassThrough bool
	// Epilogue, when set, adds text computed at run time to --help.
	Epilogue func() string
	// Query marks a program that only reads and prints, with nothing to
	// clean up: it does not catch SIGINT, SIGTERM or SIGHUP, so they end it
	// at once and its Ctx is never cancelled. Watching for signals costs
	// threads that take milliseconds to start on a loaded host, more than
	// such a program's whole work.
	Query bool
	Run   func(env *Env, args []string) error
}

// Common are the options every program has.
type Common struct {
	Color string `long:"color" value-name:"WHEN" optional:"yes" optional-value:"yes" default:"auto" choice:"yes" choice:"no" choice:"auto" description:"colour messages on stderr: yes, no or auto"`
}

// Env is what a program's Run sees of the world. Programs write results to
// Stdout and everything meant for people to Stderr.
type Env struct {
	Name    string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Getenv  func(string) string
	Palette *term.Palette
	Color   string // the --color mode asked for: yes, no or auto
	Prompt  *prompt.Prompter
	Ctx     context.Context // cancelled by SIGINT, SIGTERM or SIGHUP

	config *config.Config
}

// Config loads the configuration once; a malformed variable exits 81.
func (e *Env) Config() (*config.Config, error) {
	if e.config == nil {
		c, err := config.Load(e.Getenv)
		if err != nil {
			return nil, &Error{Code: ExitConfig, Message: err.Error(), cause: err}
		}
		e.config = c
	}
	return e.config, nil
}

// Layout is the data layout of the loaded configuration.
func (e *Env) Layout() (layout.Layout, error) {
	c, err := e.Config()
	if err != nil {
		return layout.Layout{}, err
	}
	return layout.New(c), nil
}

// Infof tells people what is happening, on stderr.
func (e *Env) Infof(format string, args ...any) {
	fmt.Fprintf(e.Stderr, format+"\n", args...)
}

// Stagef announces one stage of a long operation.
func (e *Env) Stagef(format string, args ...any) {
	fmt.Fprintln(e.Stderr, e.Palette.Paint("==> ", term.Blue, true)+e.Palette.Bold(fmt.Sprintf(format, args...)))
}

// Warnf reports something worth attention that does not stop the program.
func (e *Env) Warnf(format string, args ...any) {
	fmt.Fprintf(e.Stderr, "%s %s\n", e.Palette.Paint("warning:", term.Yellow, true), fmt.Sprintf(format, args...))
}

// Main runs the program with the process's arguments and exits.
func Main(c Command) {
	ctx, stop := context.Background(), func() {}
	if !c.Query {
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	}
	env := &Env{
		Name:   c.Name,
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
		Ctx:    ctx,
		Prompt: &prompt.Prompter{In: os.Stdin, Out: os.Stderr, Interactive: term.IsTerminal(os.Stdin)},
	}
	code := c.Execute(env, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// Execute parses args, runs the command and reports its error. stderrFile,
// when the stderr of env is a real file, lets --color=auto look at it.
func (c Command) Execute(env *Env, args []string, stderrFile *os.File) int {
	var common Common
	parser := c.parser(&common)
	mode := colourMode(args)
	env.Palette = term.NewPalette(mode, stderrFile, env.Getenv)
	if env.Ctx == nil {
		env.Ctx = context.Background()
	}
	if env.Prompt == nil {
		env.Prompt = &prompt.Prompter{In: env.Stdin, Out: env.Stderr}
	}
	rest, err := parser.ParseArgs(args)
	if err != nil {
		var ferr *flags.Error
		if errors.As(err, &ferr) && ferr.Type == flags.ErrHelp {
			c.writeHelp(env.Stdout, parser)
			if c.Epilogue != nil {
				fmt.Fprintf(env.Stdout, "\n%s", c.Epilogue())
			}
			return ExitOK
		}
		return c.report(env, Usage("%s", err.Error()))
	}
	env.Color = common.Color
	if common.Color != mode {
		env.Palette = term.NewPalette(common.Color, stderrFile, env.Getenv)
	}
	if err := c.Run(env, rest); err != nil {
		return c.report(env, err)
	}
	return ExitOK
}

func (c Command) parser(common *Common) *flags.Parser {
	options := flags.Options(flags.HelpFlag | flags.PassDoubleDash)
	if c.PassThrough {
		options |= flags.PassAfterNonOption
	}
	parser := flags.NewNamedParser(c.Name, options)
	if c.Options != nil {
		if _, err := parser.AddGroup("Options", "", c.Options); err != nil {
			panic(err) // a malformed options struct is a programming error
		}
	}
	if _, err := parser.AddGroup("Common options", "", common); err != nil {
		panic(err)
	}
	parser.Usage = "[OPTIONS]"
	if c.Synopsis != "" {
		parser.Usage += " " + c.Synopsis
	}
	return parser
}

// writeHelp prints the description verbatim (go-flags would re-wrap it and
// lose the indentation of tables), then go-flags' option list.
func (c Command) writeHelp(w io.Writer, parser *flags.Parser) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", c.Name, parser.Usage, c.Summary)
	if c.Description != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Description))
	}
	var options strings.Builder
	parser.WriteHelp(&options)
	if _, list, ok := strings.Cut(options.String(), "\n\n"); ok {
		fmt.Fprintf(w, "\n%s", list)
	}
}

// colourMode finds --color before parsing, so that even a usage error about
// another flag is painted (or not) as the user asked.
func colourMode(args []string) string {
	mode := term.ModeAuto
	for _, a := range args {
		if a == "--" {
			break
		}
		switch {
		case a == "--color":
			mode = term.ModeYes
		case strings.HasPrefix(a, "--color="):
			// An invalid value is about to be a usage error, which must
			// not be painted as if it had been yes.
			switch value := strings.TrimPrefix(a, "--color="); value {
			case term.ModeYes, term.ModeNo, term.ModeAuto:
				mode = value
			}
		}
	}
	return mode
}

func (c Command) report(env *Env, err error) int {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) && env.Ctx.Err() != nil {
			e = Errorf(ExitInterrupted, "interrupted")
		} else {
			e = &Error{Code: ExitFailure, Message: err.Error(), cause: err}
		}
	}
	if e.Message == "" {
		return e.Code
	}
	first, rest, _ := strings.Cut(e.Message, "\n")
	fmt.Fprintf(env.Stderr, "%s: %s\n", c.Name, env.Palette.Paint(first, term.Red, true))
	if rest != "" {
		fmt.Fprintln(env.Stderr, rest)
	}
	if e.usage {
		fmt.Fprintf(env.Stderr, "usage: %s %s\nRun '%s --help' for details.\n",
			c.Name, strings.TrimSpace("[OPTIONS] "+c.Synopsis), c.Name)
	}
	return e.Code
}
