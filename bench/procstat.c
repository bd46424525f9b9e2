/*
 * Readers of /proc for the benchmarks. proc(5) documents the fields of
 * /proc/PID/stat: utime and stime are fields 14 and 15, in clock ticks.
 * They are counted from the closing parenthesis of the command name,
 * because the name may itself contain spaces.
 */
#include "procstat.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

double procstat_cpu_seconds(int pid, double *system)
{
	char path[64];
	char line[1024];
	unsigned long utime = 0;
	unsigned long stime = 0;
	const char *after_name;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if(!f){
		return -1;
	}
	if(!fgets(line, sizeof(line), f)){
		fclose(f);
		return -1;
	}
	fclose(f);
	after_name = strrchr(line, ')');
	/* After ") " come field 3 (state) to field 13 (cmajflt), then utime
	 * and stime. */
	if(!after_name || sscanf(after_name + 2,
			"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			&utime, &stime) != 2){
		return -1;
	}
	if(system){
		*system = (double)stime / (double)sysconf(_SC_CLK_TCK);
	}
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

long procstat_status_kib(int pid, const char *field)
{
	char path[64];
	char line[256];
	size_t field_len = strlen(field);
	long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if(!f){
		return -1;
	}
	while(fgets(line, sizeof(line), f)){
		if(strncmp(line, field, field_len) == 0 && line[field_len] == ':'){
			if(sscanf(line + field_len + 1, "%ld", &value) != 1){
				value = -1;
			}
			break;
		}
	}
	fclose(f);
	return value;
}

double procstat_machine_busy_seconds(void)
{
	unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
	FILE *f = fopen("/proc/stat", "r");
	int fields;

	if(!f){
		return -1;
	}
	fields = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
		&user, &nice, &system, &idle, &iowait, &irq, &softirq, &steal);
	fclose(f);
	if(fields != 8){
		return -1;
	}
	return (double)(user + nice + system + irq + softirq + steal)
		/ (double)sysconf(_SC_CLK_TCK);
}

double procstat_self_cpu_seconds(void)
{
	struct rusage usage;

	if(getrusage(RUSAGE_SELF, &usage) != 0){
		return -1;
	}
	return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6
		+ (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

int64_t procstat_db_bytes(const char *path)
{
	char wal[4096];
	struct stat st;
	int64_t total;

	if(stat(path, &st) != 0){
		return -1;
	}
	total = (int64_t)st.st_size;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if(stat(wal, &st) == 0){
		total += (int64_t)st.st_size;
	}
	return total;
}
