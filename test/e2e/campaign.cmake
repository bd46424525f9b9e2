# Campaign tests: tasks created through the admin API and mosquitto_ota,
# pushes to simulated devices, timeouts, retries, rollout limits, abort,
# schedules, cancel, summaries and access control. Their shared helpers
# are in campaign_lib.sh. Included from CMakeLists.txt in this folder,
# which defines ota_add_e2e_test.
foreach(name IN ITEMS
		cli_task_finishes
		offline_then_pushed
		timeout_retry_success
		late_success_after_timeout
		max_concurrent
		abort_threshold
		start_at
		cancel
		summary_retained
		admin_refused
		large_task
		retry_task)
	ota_add_e2e_test(campaign_${name})
endforeach()
