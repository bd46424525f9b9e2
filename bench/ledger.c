/*
 * The ledger: when each reply was sent, keyed by (device, task, reply),
 * and the latencies of the replies whose message came back. A device keeps
 * the send times of its last LEDGER_ROUNDS upgrades in a ring indexed by
 * task id, so a lookup costs the same for any fleet size.
 */
#include "loadgen.h"

#include <stdlib.h>
#include <string.h>

int ledger_init(struct ledger *ledger, int devices)
{
	memset(ledger, 0, sizeof(*ledger));
	ledger->devices = devices;
	ledger->rounds = calloc((size_t)devices * LEDGER_ROUNDS, sizeof(*ledger->rounds));
	return ledger->rounds ? 0 : -1;
}

void ledger_free(struct ledger *ledger)
{
	free(ledger->rounds);
	free(ledger->latency_ns);
	memset(ledger, 0, sizeof(*ledger));
}

void ledger_begin_step(struct ledger *ledger)
{
	ledger->step_no++;
	ledger->sent = 0;
	ledger->matched = 0;
	ledger->late = 0;
	ledger->duplicates = 0;
	ledger->unknown = 0;
	ledger->overwritten = 0;
	ledger->last_match_ns = 0;
	ledger->latency_len = 0;
}

static struct ledger_round *slot_of(struct ledger *ledger, int device, int64_t task_id)
{
	size_t ring = (size_t)(task_id % LEDGER_ROUNDS);

	return &ledger->rounds[(size_t)device * LEDGER_ROUNDS + ring];
}

/* Counts the replies of the current step in `round` that never matched. */
static uint64_t unmatched_in_step(const struct ledger *ledger,
	const struct ledger_round *round)
{
	uint64_t count = 0;

	for(int i = 0; i < REPLY_COUNT; i++){
		if(round->sent_ns[i] && !(round->matched & (1u << i))
				&& round->step_no[i] == ledger->step_no){
			count++;
		}
	}
	return count;
}

bool ledger_slot_busy(const struct ledger *ledger, int device, int64_t task_id)
{
	const struct ledger_round *round =
		&ledger->rounds[(size_t)device * LEDGER_ROUNDS + (size_t)(task_id % LEDGER_ROUNDS)];

	return round->task_id != task_id && unmatched_in_step(ledger, round) > 0;
}

void ledger_sent(struct ledger *ledger, int device, int64_t task_id, int reply,
	int64_t now_ns)
{
	struct ledger_round *round = slot_of(ledger, device, task_id);

	if(round->task_id != task_id){
		ledger->overwritten += unmatched_in_step(ledger, round);
		memset(round, 0, sizeof(*round));
		round->task_id = task_id;
	}
	round->sent_ns[reply] = now_ns;
	round->step_no[reply] = ledger->step_no;
	round->matched &= (uint8_t)~(1u << reply);
	ledger->sent++;
}

static int add_latency(struct ledger *ledger, int64_t latency)
{
	if(ledger->latency_len == ledger->latency_cap){
		size_t cap = ledger->latency_cap ? ledger->latency_cap * 2 : 65536;
		int64_t *grown = realloc(ledger->latency_ns, cap * sizeof(*grown));

		if(!grown){
			return -1;
		}
		ledger->latency_ns = grown;
		ledger->latency_cap = cap;
	}
	ledger->latency_ns[ledger->latency_len++] = latency;
	return 0;
}

void ledger_received(struct ledger *ledger, int device, int64_t task_id,
	int reply, int64_t now_ns)
{
	struct ledger_round *round;

	if(device < 0 || device >= ledger->devices || reply < 0 || reply >= REPLY_COUNT){
		ledger->unknown++;
		return;
	}
	round = slot_of(ledger, device, task_id);
	if(round->task_id != task_id || !round->sent_ns[reply]){
		ledger->unknown++;
		return;
	}
	if(round->matched & (1u << reply)){
		ledger->duplicates++;
		return;
	}
	round->matched |= (uint8_t)(1u << reply);
	if(round->step_no[reply] != ledger->step_no){
		ledger->late++;
		return;
	}
	ledger->matched++;
	ledger->last_match_ns = now_ns;
	/* A latency lost to a failed allocation only thins the sample. */
	(void)add_latency(ledger, now_ns - round->sent_ns[reply]);
}

uint64_t ledger_outstanding(const struct ledger *ledger)
{
	uint64_t done = ledger->matched + ledger->overwritten;

	return ledger->sent > done ? ledger->sent - done : 0;
}

static int compare_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a;
	int64_t y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least `percent` of the sample
 * at or below it. */
static int64_t nearest_rank(const int64_t *sorted, size_t len, int percent)
{
	size_t rank = (len * (size_t)percent + 99) / 100;

	return sorted[rank ? rank - 1 : 0];
}

void ledger_percentiles(struct ledger *ledger, int64_t *p50, int64_t *p99,
	int64_t *max)
{
	size_t len = ledger->latency_len;

	*p50 = *p99 = *max = 0;
	if(len == 0){
		return;
	}
	qsort(ledger->latency_ns, len, sizeof(int64_t), compare_int64);
	*p50 = nearest_rank(ledger->latency_ns, len, 50);
	*p99 = nearest_rank(ledger->latency_ns, len, 99);
	*max = ledger->latency_ns[len - 1];
}
