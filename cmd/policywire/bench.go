package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/policywire/policywire/internal/bench"
)

func newBenchCmd(a *app) *cobra.Command {
	var (
		quick, asJSON, inProcess bool
		sourceCounts, conc       []int
		searchSizes              []int
		seed                     uint64
		cpuProfile, memProfile   string
		heapProfile              string
		processSources           []int
		processOnly              bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the pipeline offline on synthetic sources",
		Long: "bench serves thousands of synthetic RSS and Atom sources from loopback, runs the\n" +
			"real pipeline over them (fetch, parse, summarize, store, index, Slack delivery to a\n" +
			"local sink) and reports time, CPU, memory, latency, ingest and search figures.\n" +
			"It needs no config and no network. It exits 1 when the pipeline misbehaves\n" +
			"(an alert missing or posted twice, a 304 cycle that alerts), never for speed.\n" +
			"The full run takes up to 20 minutes; --quick takes under a minute.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts := bench.FullOptions()
			if quick {
				opts = bench.QuickOptions()
			}
			set := func(name string, apply func()) {
				if c.Flags().Changed(name) {
					apply()
				}
			}
			if c.Flags().Changed("sources") || c.Flags().Changed("concurrency") {
				if len(sourceCounts) == 0 {
					for _, r := range opts.Runs {
						if !slices.Contains(sourceCounts, r.Sources) {
							sourceCounts = append(sourceCounts, r.Sources)
						}
					}
				}
				if len(conc) == 0 {
					conc = []int{8}
				}
				opts.Runs = bench.CrossRuns(sourceCounts, conc)
			}
			set("search-sizes", func() { opts.SearchSizes = slices.DeleteFunc(searchSizes, func(n int) bool { return n <= 0 }) })
			set("seed", func() { opts.Seed = seed })
			set("process-sources", func() { opts.ProcessSources = slices.DeleteFunc(processSources, func(n int) bool { return n <= 0 }) })
			opts.ProcessOnly = processOnly
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: cannot find the policywire executable: %w", err)
			}
			// The whole-process figures run this same binary.
			opts.Exe = exe
			if !inProcess {
				opts.Spawn = bench.ChildProcess(exe, "bench", "fixtures")
			}
			opts.Progress = a.stderr
			opts.Command = commandLine(c)
			// The pipeline runs under the memory limit the daemon sets.
			applyMemoryLimit(slog.New(slog.DiscardHandler))
			closeProfiles, err := openProfiles(&opts, cpuProfile, memProfile, heapProfile)
			if err != nil {
				return err
			}
			rep, err := bench.Run(c.Context(), opts)
			if perr := closeProfiles(); err == nil && perr != nil {
				err = perr
			}
			if rep != nil && (err == nil || errors.Is(err, bench.ErrMisbehaved)) {
				write := rep.WriteTable
				if asJSON {
					write = rep.WriteJSON
				}
				if werr := write(a.stdout); werr != nil && err == nil {
					err = werr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&quick, "quick", false, "reduced run for CI: 200 sources, archives of 2,000 and 10,000 items")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.IntSliceVar(&sourceCounts, "sources", nil, "numbers of synthetic sources, each run with every --concurrency\n(default: 1000 at concurrency 8 and 32, 10000 at 8; --quick: 200 at 8)")
	f.IntSliceVar(&conc, "concurrency", nil, "fetch concurrencies to run each --sources with (default 8)")
	f.IntSliceVar(&searchSizes, "search-sizes", nil, "archive sizes to search; 0 skips the search figures (default 10000,100000,1000000)")
	f.Uint64Var(&seed, "seed", 0, "seed of the synthetic sources (default fixed)")
	f.BoolVar(&inProcess, "in-process", false, "run the fixture server inside this process (its cost then counts in the figures)")
	f.IntSliceVar(&processSources, "process-sources", nil, "numbers of sources the whole-process figures (run --once and run as children) are taken\nover; 0 skips them (default 1000; --quick: 50)")
	f.BoolVar(&processOnly, "process-only", false, "take only the whole-process figures")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	f.StringVar(&memProfile, "memprofile", "", "write an allocation profile of the run to this file")
	f.StringVar(&heapProfile, "heapprofile", "", "write the in-use heap near the run's highest memory to this file")
	cmd.AddCommand(newBenchFixturesCmd(a))
	return cmd
}

// newBenchFixturesCmd is the fixture server bench starts as its child.
func newBenchFixturesCmd(a *app) *cobra.Command {
	var cfg bench.FixtureConfig
	var epoch string
	cmd := &cobra.Command{
		Use:    "fixtures",
		Short:  "Serve the bench's synthetic sources and Slack sink until stdin closes",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			t, err := time.Parse(time.RFC3339Nano, epoch)
			if err != nil {
				return usageError(fmt.Errorf("--epoch: %w", err))
			}
			cfg.Epoch = t
			return bench.ServeFixtures(c.Context(), cfg, a.stdin, a.stdout)
		},
	}
	cmd.Flags().IntVar(&cfg.Sources, "sources", 1000, "number of sources")
	cmd.Flags().Uint64Var(&cfg.Seed, "seed", 1, "seed")
	cmd.Flags().StringVar(&epoch, "epoch", time.Now().UTC().Format(time.RFC3339), "time the item dates are anchored to")
	return cmd
}

// openProfiles creates the profile files asked for and returns a function
// that closes them.
func openProfiles(opts *bench.Options, cpuPath, memPath, heapPath string) (func() error, error) {
	var files []*os.File
	closeAll := func() error {
		var errs []error
		for _, f := range files {
			errs = append(errs, f.Close())
		}
		return errors.Join(errs...)
	}
	open := func(path string) (io.Writer, error) {
		f, err := os.Create(path)
		if err != nil {
			_ = closeAll()
			return nil, fmt.Errorf("bench: profile: %w", err)
		}
		files = append(files, f)
		return f, nil
	}
	var err error
	if cpuPath != "" {
		if opts.CPUProfile, err = open(cpuPath); err != nil {
			return nil, err
		}
	}
	if memPath != "" {
		if opts.MemProfile, err = open(memPath); err != nil {
			return nil, err
		}
	}
	if heapPath != "" {
		if opts.HeapProfile, err = open(heapPath); err != nil {
			return nil, err
		}
	}
	return closeAll, nil
}

// commandLine is the command as typed, for the report.
func commandLine(c *cobra.Command) string {
	line := c.CommandPath()
	c.Flags().Visit(func(f *pflag.Flag) {
		if f.Value.Type() == "bool" {
			line += " --" + f.Name
			return
		}
		line += " --" + f.Name + "=" + strings.Trim(f.Value.String(), "[]")
	})
	return line
}
