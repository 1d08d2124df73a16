package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mpcq/mpcq/internal/analyst"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// Cluster runs a layout's daemons as child processes.
type Cluster struct {
	L      *Layout
	BinDir string

	mu    sync.Mutex
	procs map[string]*exec.Cmd
	done  map[string]chan struct{}
	// atStop runs after the daemons stopped (the demo's PostgreSQL).
	atStop []func()
}

// AtStop registers f to run once Stop has stopped the daemons.
func (c *Cluster) AtStop(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.atStop = append(c.atStop, f)
}

// NewCluster prepares to run the daemons from binDir.
func NewCluster(l *Layout, binDir string) *Cluster {
	return &Cluster{L: l, BinDir: binDir, procs: map[string]*exec.Cmd{}, done: map[string]chan struct{}{}}
}

// FindBinDir returns the directory holding partyd and coordinatord: the
// one of the running executable, else the PATH's.
func FindBinDir() (string, error) {
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		if _, err := os.Stat(filepath.Join(dir, "partyd")); err == nil {
			return dir, nil
		}
	}
	p, err := exec.LookPath("partyd")
	if err != nil {
		return "", fmt.Errorf("partyd not found next to this program or on PATH: run make build")
	}
	return filepath.Dir(p), nil
}

func (c *Cluster) start(name, bin, config string) error {
	if err := os.MkdirAll(c.L.Path("logs"), 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(c.L.Path("logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(c.BinDir, bin), "--config", config)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	c.mu.Lock()
	c.procs[name], c.done[name] = cmd, done
	c.mu.Unlock()
	return nil
}

// StartParty starts one party daemon.
func (c *Cluster) StartParty(name string) error {
	return c.start(name, "partyd", c.L.PartyConfig(name))
}

// StartCoordinator starts the coordinator daemon.
func (c *Cluster) StartCoordinator() error {
	return c.start("coordinator", "coordinatord", c.L.CoordinatorConfig())
}

// StartAll starts the parties and the coordinator.
func (c *Cluster) StartAll() error {
	for _, p := range c.L.Parties {
		if err := c.StartParty(p); err != nil {
			return err
		}
	}
	return c.StartCoordinator()
}

// Kill sends SIGKILL to a process and waits for it to exit.
func (c *Cluster) Kill(name string) error { return c.signal(name, syscall.SIGKILL, 10*time.Second) }

func (c *Cluster) signal(name string, sig syscall.Signal, wait time.Duration) error {
	c.mu.Lock()
	cmd, done := c.procs[name], c.done[name]
	c.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("no process %s", name)
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
	}
	c.mu.Lock()
	delete(c.procs, name)
	c.mu.Unlock()
	return nil
}

// Stop ends every process: SIGTERM (graceful), then SIGKILL after a grace period.
func (c *Cluster) Stop() {
	c.mu.Lock()
	var names []string
	for n := range c.procs {
		names = append(names, n)
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.signal(n, syscall.SIGTERM, 15*time.Second) }()
	}
	wg.Wait()
	c.mu.Lock()
	fs := c.atStop
	c.atStop = nil
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// PIDs returns the running processes' ids by name.
func (c *Cluster) PIDs() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for n, cmd := range c.procs {
		out[n] = cmd.Process.Pid
	}
	return out
}

// CPUSeconds reads a live process's CPU time so far (user and system,
// from /proc/PID/stat, in USER_HZ = 100 ticks per second on Linux).
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime + stime (fields 14 and 15) from a
// /proc/PID/stat line; the command name (field 2, in parentheses) may
// hold spaces and parentheses, so fields are counted after its last ')'.
func parseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc stat: no command name in %.40q", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks uint64
	for _, x := range f[11:13] { // fields 14 (utime) and 15 (stime)
		v, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc stat: %w", err)
		}
		ticks += v
	}
	return float64(ticks) / 100, nil
}

// PeakRSS reads a live process's peak resident set size (VmHWM) in bytes.
func PeakRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, err := strconv.ParseUint(f[1], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// Phase timings observed while waiting for readiness.
type Phases struct {
	Ceremony  time.Duration // from the coordinator's first report until keys exist
	Alignment time.Duration // from keys until the epoch exists
}

// WaitReady polls the coordinator's status until the consortium is ready,
// reporting phase changes, and returns how long the ceremony and the
// alignment took as seen from here.
func WaitReady(ctx context.Context, client pb.CoordinatorClient, report func(string)) (Phases, error) {
	var ph Phases
	lastPhase, lastDetail := "", ""
	var ceremonyStart, alignStart time.Time
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := client.Status(cctx, &pb.StatusRequest{})
		cancel()
		if err == nil {
			now := time.Now()
			if st.Phase != lastPhase {
				if report != nil {
					msg := fmt.Sprintf("[%6.1fs] coordinator: %s", time.Since(start).Seconds(), st.Phase)
					switch {
					case st.Phase == "waiting for parties":
						// The parties are still starting: their
						// "connection refused" is no failure.
						msg = fmt.Sprintf("[%6.1fs] waiting for parties to start…", time.Since(start).Seconds())
					case st.Error != "":
						msg += " (" + st.Error + ")"
					}
					report(msg)
				}
				lastPhase = st.Phase
			}
			if st.Detail != "" && st.Detail != lastDetail && report != nil {
				report(fmt.Sprintf("[%6.1fs] coordinator: %s: %s", time.Since(start).Seconds(), st.Phase, st.Detail))
			}
			lastDetail = st.Detail
			if st.Phase == "key ceremony" && ceremonyStart.IsZero() {
				ceremonyStart = now
			}
			if st.Phase == "record alignment" && alignStart.IsZero() {
				alignStart = now
				if !ceremonyStart.IsZero() {
					ph.Ceremony = now.Sub(ceremonyStart)
				}
			}
			if st.Ready {
				if !alignStart.IsZero() {
					ph.Alignment = now.Sub(alignStart)
				}
				return ph, nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return ph, fmt.Errorf("consortium not ready: %w (last status error: %v)", ctx.Err(), err)
			}
			return ph, fmt.Errorf("consortium not ready: %w (phase %q)", ctx.Err(), lastPhase)
		case <-tick.C:
		}
	}
}

// Analyst loads the layout's analyst profile and dials the coordinator.
func (l *Layout) Analyst() (*analyst.Profile, pb.CoordinatorClient, func(), error) {
	p, err := analyst.Load(l.AnalystDir())
	if err != nil {
		return nil, nil, nil, err
	}
	conn, client, err := p.Dial()
	if err != nil {
		return nil, nil, nil, err
	}
	return p, client, func() { _ = conn.Close() }, nil
}
