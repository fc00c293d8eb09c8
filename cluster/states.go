package cluster

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Member states, as Member.State gives them.
const (
	StateAlive   = "alive"
	StateSuspect = "suspect"
	StateFailed  = "failed"
	StateLeft    = "left"
)

// memberStates keeps each member's state as this node sees it, which
// memberlist v0.7.0 does not show: the Node.State of the members it lists
// is never set (its own state lives in a private field that shadows it),
// Members leaves out the members it declared dead or that left, and
// NotifyLeave does not say which of the two happened. So the node keeps
// the states itself, from what memberlist does tell:
//
//   - alive: NotifyJoin, NotifyUpdate, or a probe of it answered
//     (PingDelegate);
//   - suspect: this node's own probe of it failed (memberlist logs that
//     line just before it starts suspecting the member; a suspicion it
//     learns from another node's gossip is not told at all), until a
//     probe of it is answered again, it refutes the suspicion with new
//     metadata (NotifyUpdate), or memberlist declares it failed;
//   - failed or left: NotifyLeave, left if the member said it was leaving
//     (its leave notice, sent just before memberlist's Leave), failed
//     otherwise. Such a member stays listed for keepPlaceFor.
//
// The node keeps each member's addresses too, as the events give them:
// Members returns memberlist's own nodes, which it changes under its lock
// (a member back at another address), so only their names are read.
type memberStates struct {
	mu sync.Mutex
	m  map[string]*memberState
}

// memberState is what the node keeps of one member.
type memberState struct {
	state        string
	since        time.Time // when it entered state
	gossip, data string    // its addresses, kept for a member that went away
	leaving      time.Time // when its leave notice came, zero if none
}

// leaveNoticeFor is how long a leave notice stands: a member that drops
// off memberlist's list within it left; later, it failed.
const leaveNoticeFor = time.Minute

func newMemberStates() *memberStates { return &memberStates{m: map[string]*memberState{}} }

// get returns name's entry, made alive now if new. Called with s.mu held.
func (s *memberStates) get(name string) *memberState {
	e := s.m[name]
	if e == nil {
		e = &memberState{state: StateAlive, since: time.Now()}
		s.m[name] = e
	}
	return e
}

func (e *memberState) set(state string) {
	if e.state != state {
		e.state, e.since = state, time.Now()
	}
}

// joined records a member that joined (or came back): alive, with no
// leave notice standing.
func (s *memberStates) joined(name, gossip, data string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(name)
	e.set(StateAlive)
	e.gossip, e.data, e.leaving = gossip, data, time.Time{}
}

// moved records a member's new addresses (NotifyUpdate). memberlist took
// an alive message of it to learn them: a suspect member is alive again.
func (s *memberStates) moved(name, gossip, data string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(name)
	e.gossip, e.data = gossip, data
	if e.state == StateSuspect {
		e.set(StateAlive)
	}
}

// answered records a probe of the member answered: a suspect member is
// alive again. A member that went away stays so (memberlist does not probe
// those; a late answer does not bring one back, NotifyJoin does).
func (s *memberStates) answered(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[name]; e != nil && e.state == StateSuspect {
		e.set(StateAlive)
	}
}

// suspected records that this node's probe of the member failed: memberlist
// suspects it now. Only an alive member becomes suspect.
func (s *memberStates) suspected(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[name]; e != nil && e.state == StateAlive {
		e.set(StateSuspect)
	}
}

// present returns the members alive or suspect but self, each as a
// memberlist node with its name and gossip address, for a message to it.
func (s *memberStates) present(self string) []*memberlist.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*memberlist.Node
	for name, e := range s.m {
		if name == self || (e.state != StateAlive && e.state != StateSuspect) {
			continue
		}
		host, port, err := net.SplitHostPort(e.gossip)
		p, perr := strconv.ParseUint(port, 10, 16)
		ip := net.ParseIP(host)
		if err != nil || perr != nil || ip == nil {
			continue
		}
		out = append(out, &memberlist.Node{Name: name, Addr: ip, Port: uint16(p)})
	}
	return out
}

// left records a member off memberlist's list: left if its leave notice
// stands, failed otherwise.
func (s *memberStates) left(name, gossip, data string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(name)
	if gossip != "" {
		e.gossip = gossip
	}
	if data != "" {
		e.data = data
	}
	if !e.leaving.IsZero() && time.Since(e.leaving) < leaveNoticeFor {
		e.set(StateLeft)
	} else {
		e.set(StateFailed)
	}
	e.leaving = time.Time{}
}

// noticed records a member's leave notice. The notice and memberlist's
// leave travel apart (the notice over TCP, the leave in gossip): one that
// arrives just after the member was marked failed makes it left.
func (s *memberStates) noticed(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[name]
	if e == nil {
		return // not a member we know: nothing to say about it
	}
	if e.state == StateFailed && time.Since(e.since) < leaveNoticeLate {
		e.set(StateLeft)
		return
	}
	e.leaving = time.Now()
}

// leaveNoticeLate is how late after the member was marked failed its leave
// notice may come and still make it left.
const leaveNoticeLate = 5 * time.Second

// snapshot returns each member's entry by name, but those of the members
// that went away longer than keepPlaceFor ago.
func (s *memberStates) snapshot() map[string]memberState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked()
	out := make(map[string]memberState, len(s.m))
	for name, e := range s.m {
		out[name] = *e
	}
	return out
}

// prune forgets the members that went away longer than keepPlaceFor ago,
// so that the entries of members that never come back (containers
// restarted under new names) do not pile up.
func (s *memberStates) prune() {
	s.mu.Lock()
	s.pruneLocked()
	s.mu.Unlock()
}

func (s *memberStates) pruneLocked() {
	for name, e := range s.m {
		if (e.state == StateFailed || e.state == StateLeft) && time.Since(e.since) > keepPlaceFor {
			delete(s.m, name)
		}
	}
}

// The leave notice is a memberlist user message: leaveNoticePrefix and the
// leaving member's name.
const leaveNoticePrefix = "sessiond/leaving:"

// maxNodeName bounds a node name in a leave notice.
const maxNodeName = 512

func encodeLeaveNotice(name string) []byte { return []byte(leaveNoticePrefix + name) }

// decodeLeaveNotice returns the name a leave notice carries; ok is false
// for any other message.
func decodeLeaveNotice(b []byte) (name string, ok bool) {
	if len(b) > len(leaveNoticePrefix)+maxNodeName {
		return "", false
	}
	name, ok = strings.CutPrefix(string(b), leaveNoticePrefix)
	return name, ok && name != ""
}

// suspectLine returns the member a memberlist log line says this node
// suspects ("Suspect NAME has failed, no acks received", logged by its
// probe just before it marks the member suspect), if it is that line.
// TestMemberStates fails if a memberlist release words it otherwise.
func suspectLine(line string) (name string, ok bool) {
	rest, ok := strings.CutPrefix(line, "Suspect ")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, " has failed, no acks received")
}

// pingDelegate hears memberlist's answered probes.
type pingDelegate struct{ n *Node }

// AckPayload adds nothing to the acks this node sends.
func (pingDelegate) AckPayload() []byte { return nil }

// NotifyPingComplete: a member that answered a probe is alive.
func (d pingDelegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	d.n.states.answered(other.Name)
}

// announceLeave sends every member the node's leave notice, so that they
// show it left rather than failed, waiting up to timeout for them.
func (n *Node) announceLeave(timeout time.Duration) {
	msg := encodeLeaveNotice(n.cfg.NodeName)
	done := make(chan struct{})
	var wg sync.WaitGroup
	// The addresses come from the node's own record of the members: the
	// nodes memberlist's Members returns are written on under its lock
	// after it returns them (a race the race detector caught here).
	for _, m := range n.states.present(n.cfg.NodeName) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.ml.SendReliable(m, msg); err != nil {
				n.log.Debug("leave notice not sent", "node", m.Name, "err", err)
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}

// dataAddr returns the data address a member's metadata gives, or "".
func (n *Node) dataAddr(node *memberlist.Node) string {
	m, err := decodeMeta(node.Meta)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(node.Addr.String(), strconv.Itoa(int(m.DataPort)))
}
