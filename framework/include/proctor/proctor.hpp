#pragma once

/// Everything a program needs to start and manage processes and share memory and locks with them.
#include "proctor/context.hpp"
#include "proctor/current_process.hpp"
#include "proctor/entry.hpp"
#include "proctor/init.hpp"
#include "proctor/joinable_queue.hpp"
#include "proctor/lock.hpp"
#include "proctor/lock_guard.hpp"
#include "proctor/process.hpp"
#include "proctor/process_error.hpp"
#include "proctor/queue.hpp"
#include "proctor/shared_segment.hpp"
#include "proctor/shm_error.hpp"
#include "proctor/simple_queue.hpp"
#include "proctor/start_method.hpp"
