package app

import "time"

// run is the writer's loop: take alerts, fold, write in batches, tick.
func (w *writer) run(q *queue) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	backoff := time.Duration(0)
	var retryAt time.Time
	for {
		w.onLoop()
		if len(w.pending) > 0 && w.now().After(retryAt) {
			if err := w.flush(); err != nil {
				backoff = min(max(2*backoff, 250*time.Millisecond), 30*time.Second)
				retryAt = w.now().Add(backoff)
				if w.now().Sub(w.lastErr) >= time.Minute {
					w.lastErr = w.now()
					w.log.Error().Err(err).Dur("retry_in", backoff).Msg("cannot write reports; alerts are held in memory and retried")
				}
			} else if backoff > 0 {
				backoff = 0
				w.log.Info().Msg("writing reports again")
			}
		}
		// While writes fail, stop taking alerts: the queue fills and the
		// inputs push back (gRPC stops asking Falco, HTTP answers 503).
		in := q.ch
		if len(w.pending) > 0 && backoff > 0 {
			in = nil
		}
		var answers <-chan evidenceAnswer
		if w.evidence != nil {
			answers = w.evidence.answers
		}
		select {
		case ans := <-answers:
			w.gotEvidence(ans)
		case a, ok := <-in:
			if !ok {
				for len(answers) > 0 {
					w.gotEvidence(<-answers)
				}
				w.abandonEvidence()
				w.closeAll()
				if err := w.flush(); err != nil {
					// The alerts stay in the spool and are replayed at the next start.
					w.log.Error().Err(err).Int("reports", len(w.pending)).Msg("reports not written at shutdown; their alerts stay in the spool for the next start")
					return
				}
				w.lastTrim = time.Time{}
				w.trim()
				return
			}
			w.add(a)
		drain:
			for i := 1; i < maxBatch; i++ {
				select {
				case a, ok := <-q.ch:
					if !ok {
						break drain
					}
					w.add(a)
				default:
					break drain
				}
			}
		case <-tick.C:
			w.tick()
			w.trim()
			w.metrics.QueueDepth.Set(float64(len(q.ch)))
		}
	}
}
