# Turns the numbered migrations in schema/ into a C source file, so that the
# plugin carries its SQL and needs no files at run time.
#
# Input: SCHEMA_DIR, OUTPUT (the .c file to write).

file(GLOB migrations "${SCHEMA_DIR}/[0-9][0-9][0-9]_*.sql")
list(SORT migrations)

set(body "/* Generated from the files in schema/ by cmake/embed_schema.cmake. */\n")
string(APPEND body "#include \"schema.h\"\n\n")
set(names "")
set(index 0)
foreach(path IN LISTS migrations)
	math(EXPR index "${index} + 1")
	get_filename_component(name "${path}" NAME)
	string(SUBSTRING "${name}" 0 3 number)
	math(EXPR expected_number "${index}")
	if(NOT number EQUAL expected_number)
		message(FATAL_ERROR "schema: ${name} is out of sequence; expected number ${index}")
	endif()
	file(READ "${path}" hex HEX)
	string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
	string(APPEND body "/* ${name} */\nstatic const char migration_${index}[] = {${hex}0x00};\n\n")
	list(APPEND names "migration_${index}")
endforeach()

list(JOIN names ",\n\t" joined)
string(APPEND body "const char *const ota_schema_migrations[] = {\n\t${joined}\n};\n\n")
string(APPEND body "const int ota_schema_migration_count = ${index};\n")

# Rewrite only on change, so that an unchanged schema rebuilds nothing.
if(EXISTS "${OUTPUT}")
	file(READ "${OUTPUT}" old)
endif()
if(NOT "${old}" STREQUAL "${body}")
	file(WRITE "${OUTPUT}" "${body}")
endif()
