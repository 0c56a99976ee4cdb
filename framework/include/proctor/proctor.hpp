#pragma once

/// Everything a program needs to start and manage processes.
#include "proctor/context.hpp"
#include "proctor/current_process.hpp"
#include "proctor/entry.hpp"
#include "proctor/init.hpp"
#include "proctor/process.hpp"
#include "proctor/process_error.hpp"
#include "proctor/start_method.hpp"
