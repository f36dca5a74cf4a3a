package maskaudit

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/fleet"
)

// DefaultSharedTTL is how long a site's aggregate lives in Redis after its
// last report.
const DefaultSharedTTL = 30 * 24 * time.Hour

// shared aggregates the gaps of every replica in Redis, per site, under
// {prefix}maskaudit:{SITE}: (the braces are a Cluster hash tag: one site's
// keys share a slot, so one script can update them):
//
//	hits     sorted set, gap id → hits (at most MaxGapsPerSite members)
//	details  hash, gap id → {"kind","path","selector","firstSeen"}
//	last     hash, gap id → last seen (Unix ms)
//	meta     hash, "dropped" → new gaps not kept because the set was full
//
// and the site names in {prefix}maskaudit:sites. Every key expires TTL
// after the site's last report. A report is one round trip (the script and
// the sites set in one pipeline). Each replica still logs a gap the first
// time it sees it, so a gap is logged once per replica, not once per
// fleet.
type shared struct {
	r       *fleet.Redis
	prefix  string
	perSite int
	ttl     time.Duration
}

// record is the script that counts one report's gaps: ARGV[1] the cap,
// ARGV[2] the TTL in seconds, ARGV[3] now (Unix ms), then pairs of gap id
// and details JSON. A new gap past the cap is counted in meta's dropped.
var record = redis.NewScript(`
local cap = tonumber(ARGV[1])
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call("ZSCORE", KEYS[1], id) or redis.call("ZCARD", KEYS[1]) < cap then
    redis.call("ZINCRBY", KEYS[1], 1, id)
    redis.call("HSETNX", KEYS[2], id, ARGV[i + 1])
    redis.call("HSET", KEYS[3], id, ARGV[3])
  else
    redis.call("HINCRBY", KEYS[4], "dropped", 1)
  end
end
for k = 1, 4 do redis.call("EXPIRE", KEYS[k], ARGV[2]) end
return 0
`)

type sharedDetails struct {
	Kind      string    `json:"kind"`
	Path      string    `json:"path"`
	Selector  string    `json:"selector"`
	FirstSeen time.Time `json:"firstSeen"`
}

func (sh *shared) keys(site string) []string {
	base := sh.prefix + "{" + site + "}:"
	return []string{base + "hits", base + "details", base + "last", base + "meta"}
}

// gapID names a gap within its site: path and selector, which cannot
// contain a NUL (a report's selector is printable, its path a URL path).
func gapID(path, selector string) string { return path + "\x00" + selector }

// add sends one report to the aggregate. A failure leaves it out of the
// aggregate (the local store has it) and is counted by the circuit.
func (sh *shared) add(ctx context.Context, site string, rep report, now time.Time) {
	args := make([]any, 0, 3+2*len(rep.Fields))
	args = append(args, sh.perSite, int64(sh.ttl/time.Second), now.UnixMilli())
	for _, f := range rep.Fields {
		d, _ := json.Marshal(sharedDetails{Kind: f.Kind, Path: rep.Path, Selector: f.Selector, FirstSeen: now.UTC()})
		args = append(args, gapID(rep.Path, f.Selector), string(d))
	}
	keys := sh.keys(site)
	sites := sh.prefix + "sites"
	sh.r.Do(ctx, fleet.UseMaskAudit, func(ctx context.Context, c redis.UniversalClient) error {
		run := func() ([]redis.Cmder, error) {
			return c.Pipelined(ctx, func(p redis.Pipeliner) error {
				record.EvalSha(ctx, p, keys, args...)
				p.SAdd(ctx, sites, site)
				p.Expire(ctx, sites, sh.ttl)
				return nil
			})
		}
		_, err := run()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") { // Redis restarted: load once, again
			if err = record.Load(ctx, c).Err(); err == nil {
				_, err = run()
			}
		}
		return err
	})
}

// listing reads the aggregate for site ("": every site), the top limit
// gaps of each; ok is false when Redis could not answer, and the caller
// lists the local store instead. Gaps with equal hits at the cut may be
// chosen differently than locally (Redis breaks ties by gap id).
func (sh *shared) listing(ctx context.Context, site string, limit int) (l Listing, ok bool) {
	err := sh.r.Do(ctx, fleet.UseMaskAudit, func(ctx context.Context, c redis.UniversalClient) error {
		names := []string{site}
		if site == "" {
			var err error
			if names, err = c.SMembers(ctx, sh.prefix+"sites").Result(); err != nil {
				return err
			}
		}
		type siteCmds struct {
			top     *redis.ZSliceCmd
			count   *redis.IntCmd
			dropped *redis.StringCmd
		}
		cmds := make([]siteCmds, len(names))
		if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, name := range names {
				k := sh.keys(name)
				cmds[i] = siteCmds{p.ZRevRangeWithScores(ctx, k[0], 0, int64(limit-1)), p.ZCard(ctx, k[0]), p.HGet(ctx, k[3], "dropped")}
			}
			return nil
		}); err != nil && err != redis.Nil {
			return err
		}
		type detailCmds struct{ details, last *redis.SliceCmd }
		dcmds := make([]detailCmds, len(names))
		if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, name := range names {
				ids := make([]string, 0, len(cmds[i].top.Val()))
				for _, z := range cmds[i].top.Val() {
					ids = append(ids, z.Member.(string))
				}
				if len(ids) == 0 {
					continue
				}
				k := sh.keys(name)
				dcmds[i] = detailCmds{p.HMGet(ctx, k[1], ids...), p.HMGet(ctx, k[2], ids...)}
			}
			return nil
		}); err != nil && err != redis.Nil {
			return err
		}
		l = Listing{Sites: []SiteListing{}}
		for i, name := range names {
			sl := SiteListing{Site: name, Gaps: int(cmds[i].count.Val()), Top: []TopEntry{}}
			sl.Dropped, _ = strconv.ParseUint(cmds[i].dropped.Val(), 10, 64)
			for j, z := range cmds[i].top.Val() {
				if dcmds[i].details == nil {
					break
				}
				var d sharedDetails
				ds, _ := dcmds[i].details.Val()[j].(string)
				if json.Unmarshal([]byte(ds), &d) != nil {
					continue // expired between the two reads
				}
				last := d.FirstSeen
				if ms, err := strconv.ParseInt(asString(dcmds[i].last.Val()[j]), 10, 64); err == nil {
					last = time.UnixMilli(ms).UTC()
				}
				sl.Top = append(sl.Top, TopEntry{Gap: Gap{Kind: d.Kind, Path: d.Path, Selector: d.Selector,
					Hits: uint64(z.Score), FirstSeen: d.FirstSeen, LastSeen: last}})
			}
			if sl.Gaps > 0 {
				l.Sites = append(l.Sites, sl)
			}
		}
		return nil
	})
	if err != nil {
		return Listing{}, false
	}
	slices.SortFunc(l.Sites, func(a, b SiteListing) int { return strings.Compare(a.Site, b.Site) })
	for i := range l.Sites {
		l.Sites[i].Top = sortTop(l.Sites[i].Top, limit)
	}
	return l, true
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}
