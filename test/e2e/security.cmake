# Security and robustness tests: the secure example configuration, device
# identity, limits, a battery of hostile messages, a locked database, a
# broker killed under load, and the trace replay under valgrind. Included
# from CMakeLists.txt beside this file; each NAME runs test/e2e/NAME.sh.

# Two small libmosquitto clients that mosquitto_pub cannot stand in for:
# one keeps resending a QoS 1 message across reconnects, the other plays
# a few hundred devices and records what the broker acknowledged.
add_executable(qos1_resend qos1_resend.c)
target_include_directories(qos1_resend PRIVATE ${MOSQUITTO_INCLUDE_DIR})
target_link_libraries(qos1_resend PRIVATE ${MOSQUITTO_LIBRARY})

add_executable(reply_fleet reply_fleet.c)
target_include_directories(reply_fleet PRIVATE ${MOSQUITTO_INCLUDE_DIR})
target_link_libraries(reply_fleet PRIVATE ${MOSQUITTO_LIBRARY})

set(SECURITY_TESTS
	security_example
	security_identity
	security_limits
	security_bad_input
	security_locked
	security_kill
	security_valgrind)

foreach(name IN LISTS SECURITY_TESTS)
	ota_add_e2e_test(${name})
	set_property(TEST e2e_${name} APPEND PROPERTY ENVIRONMENT
		"OTA_QOS1_RESEND=$<TARGET_FILE:qos1_resend>"
		"OTA_REPLY_FLEET=$<TARGET_FILE:reply_fleet>")
endforeach()

# The broker is not built with AddressSanitizer, so when the plugin is,
# test/e2e/lib.sh preloads the ASan runtime into the broker. Tell it where
# the compiler keeps that runtime; lib.sh falls back on the libasan the
# plugin links, which is enough for GCC.
if(OTA_SANITIZE)
	if(CMAKE_C_COMPILER_ID MATCHES "Clang")
		set(asan_runtime_name libclang_rt.asan-${CMAKE_SYSTEM_PROCESSOR}.so)
	else()
		set(asan_runtime_name libasan.so)
	endif()
	execute_process(
		COMMAND ${CMAKE_C_COMPILER} -print-file-name=${asan_runtime_name}
		OUTPUT_VARIABLE OTA_ASAN_RUNTIME
		OUTPUT_STRIP_TRAILING_WHITESPACE)
	# The compiler prints the bare name when it has no such file.
	if(IS_ABSOLUTE "${OTA_ASAN_RUNTIME}" AND EXISTS "${OTA_ASAN_RUNTIME}")
		get_property(e2e_tests DIRECTORY PROPERTY TESTS)
		foreach(test IN LISTS e2e_tests)
			set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT
				"OTA_PRELOAD=${OTA_ASAN_RUNTIME}")
		endforeach()
	endif()
endif()
