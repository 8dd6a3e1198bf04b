// Package cli is the frame every virtdev program runs in: GNU-style flags
// through go-flags, the universal --help and --color, the program's
// contract (arguments and exit codes, declared once), and one place that
// turns an error into stderr text and an exit status.
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
	"time"

	"github.com/jessevdk/go-flags"

	"virtdev/lib/config"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/prompt"
	"virtdev/lib/term"
)

// Command describes one program. Everything a program accepts and returns
// is declared here once; --help, --contract, the man pages and the shell
// completions follow it.
type Command struct {
	Name        string // virtdev-path
	Group       Group  // where virtdev --help lists it
	Summary     string // one line: what the program does
	Description string // the rest of --help: behaviour, in paragraphs
	Args        []Arg  // the positional arguments, in order
	Options     any    // pointer to the program's go-flags struct, or nil
	// Codes are the exit codes the program can return besides those in
	// exitcode.Universal, which every program has. Code 0 says what
	// success means.
	Codes []exitcode.Code
	// PassThrough stops flag parsing at the first positional argument, for
	// programs that hand the rest of the line to another program.
	PassThrough bool
	// Epilogue, when set, adds text computed at run time to --help.
	Epilogue func() string
	// Query marks a program that only reads and prints, with nothing to
	// clean up: it does not catch SIGINT, SIGTERM or SIGHUP, so they end it
	// at once and its Ctx is never cancelled. Watching for signals costs
	// threads that take milliseconds to start on a loaded host, more than
	// such a program's whole work. (Such a program waits for its answers
	// on one goroutine, unixsock.Wait, so the Go scheduler has nothing
	// else to run meanwhile, nor a thread looking for it.)
	Query bool
	// OwnSignals marks a program that catches SIGINT, SIGTERM and SIGHUP
	// itself (the machine supervisor, which must outlive them until QEMU
	// has gone): the frame leaves them alone, as for a query.
	OwnSignals bool
	Run        func(env *Env, args []string) error
}

// Common are the options every program has.
type Common struct {
	Color string `long:"color" value-name:"WHEN" optional:"yes" optional-value:"yes" default:"auto" choice:"yes" choice:"no" choice:"auto" description:"colour messages on stderr: yes, no or auto (on a terminal, without NO_COLOR, unless TERM=dumb); --color alone is yes"`
	// Contract prints the declaration above as JSON, for tools that
	// follow the programs (virtdev --help, tests, completions).
	Contract bool `long:"contract" hidden:"yes" description:"print this program's contract as JSON"`
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

// Config loads the configuration once; a malformed variable is exit 81.
func (e *Env) Config() (*config.Config, error) {
	if e.config == nil {
		c, err := config.Load(e.Getenv)
		if err != nil {
			return nil, err
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
	ctx := context.Background()
	if !c.Query && !c.OwnSignals {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		// After the first signal the program winds down; a second one
		// must end it at once, even if the winding down is stuck.
		go func() {
			<-ctx.Done()
			stop()
			time.Sleep(time.Second)
			fmt.Fprintf(os.Stderr, "%s: interrupted; still cleaning up (interrupt again to quit at once)\n", c.Name)
		}()
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
	os.Exit(c.Execute(env, os.Args[1:], os.Stderr))
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
	out := &resultWriter{w: env.Stdout}
	env.Stdout = out
	err := c.execute(env, parser, &common, stderrFile, mode, args)
	if err == nil && out.err != nil {
		err = &exitcode.Error{Code: exitcode.Output, Err: out.err,
			Message: fmt.Sprintf("cannot write the result to standard output: %v\nThe output is lost; check where standard output goes (a full disk, a closed pipe or descriptor).", out.err)}
	}
	if err == nil {
		return 0
	}
	return c.report(env, err)
}

func (c Command) execute(env *Env, parser *flags.Parser, common *Common, stderrFile *os.File, mode string, args []string) error {
	rest, err := parser.ParseArgs(args)
	if err != nil {
		var ferr *flags.Error
		if errors.As(err, &ferr) && ferr.Type == flags.ErrHelp {
			c.writeHelp(env.Stdout, parser)
			return nil
		}
		return Usage("%s", err.Error())
	}
	if common.Contract {
		return c.writeContract(env.Stdout, parser)
	}
	env.Color = common.Color
	if common.Color != mode {
		env.Palette = term.NewPalette(common.Color, stderrFile, env.Getenv)
	}
	if err := c.checkArgs(rest); err != nil {
		return err
	}
	return c.Run(env, rest)
}

// resultWriter remembers the first failed write of a program's result: a
// result that did not reach its reader is a failure, whatever the program
// thought.
type resultWriter struct {
	w   io.Writer
	err error
}

func (r *resultWriter) Write(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.w.Write(p)
	if err != nil {
		r.err = err
	}
	return n, err
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
	parser.Usage = strings.TrimSpace("[OPTIONS] " + c.Synopsis())
	return parser
}

// writeHelp prints the description verbatim (go-flags would re-wrap it and
// lose the indentation of tables), go-flags' option list and the exit codes.
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
	fmt.Fprintf(w, "\nExit codes:\n")
	for _, code := range c.ExitCodes() {
		fmt.Fprintf(w, "  %-4d%s\n", code.N, code.Meaning)
	}
	if c.Epilogue != nil {
		fmt.Fprintf(w, "\n%s", c.Epilogue())
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
	code, message, usage := exitcode.Failure.N, err.Error(), false
	var e *Error
	switch {
	case errors.As(err, &e):
		code, message, usage = e.Code, e.Message, e.usage
	case errors.Is(err, context.Canceled) && env.Ctx.Err() != nil:
		code, message = exitcode.Interrupted.N, "interrupted"
	default:
		if n, ok := exitcode.Of(err); ok {
			code = n
		}
	}
	if message == "" {
		return code
	}
	first, rest, _ := strings.Cut(message, "\n")
	fmt.Fprintf(env.Stderr, "%s: %s\n", c.Name, env.Palette.Paint(first, term.Red, true))
	if rest != "" {
		fmt.Fprintln(env.Stderr, rest)
	}
	if usage {
		fmt.Fprintf(env.Stderr, "usage: %s %s\nRun '%s --help' for details.\n",
			c.Name, strings.TrimSpace("[OPTIONS] "+c.Synopsis()), c.Name)
	}
	return code
}

// Machine finds the machine a program is asked about, a project or the
// maintenance machine, in the layout of the user's configuration; a name
// that is invalid, unknown or unusable is refused with the shared code.
func (e *Env) Machine(name string) (layout.Layout, layout.Machine, error) {
	l, err := e.Layout()
	if err != nil {
		return layout.Layout{}, layout.Machine{}, err
	}
	m, err := project.FindMachine(l, name)
	return l, m, err
}
