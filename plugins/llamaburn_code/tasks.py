"""The built-in prompt suite: small tasks any of the languages can answer, from one function to a small class.

Iterations go through the suite in turn, so a run measures varied code rather than one answer repeated. The
suite is versioned: change a task and ``SUITE_VERSION`` goes up, so runs on different suites are told apart.
``python_tests`` are assertions on the names the Python answer must define; only the optional functional
check (``run_tests``) ever executes them.
"""

from __future__ import annotations

from dataclasses import dataclass

SUITE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Task:
    name: str
    prompt: str
    python_tests: str


SUITE: tuple[Task, ...] = (
    Task("fibonacci", "Write a function fibonacci(n) that returns the n-th Fibonacci number (fibonacci(0) is 0).",
         "assert fibonacci(0) == 0\nassert fibonacci(1) == 1\nassert fibonacci(10) == 55\n"),
    Task("is_prime", "Write a function is_prime(n) that says whether the integer n is a prime number.",
         "assert is_prime(2) and is_prime(13)\nassert not is_prime(1) and not is_prime(15)\n"),
    Task("reverse_words", "Write a function reverse_words(s) that returns the words of s in reverse order, "
         "joined by single spaces.",
         "assert reverse_words('a b c') == 'c b a'\nassert reverse_words('hello') == 'hello'\n"),
    Task("fizzbuzz", "Write a function fizzbuzz(n) that returns the FizzBuzz list of strings for 1 to n.",
         "assert fizzbuzz(5) == ['1', '2', 'Fizz', '4', 'Buzz']\nassert fizzbuzz(15)[-1] == 'FizzBuzz'\n"),
    Task("binary_search", "Write a function binary_search(items, target) that returns the index of target in "
         "the sorted list items, or -1 if it is absent.",
         "assert binary_search([1, 3, 5, 7], 5) == 2\nassert binary_search([1, 3, 5], 4) == -1\n"),
    Task("is_palindrome", "Write a function is_palindrome(s) that says whether s reads the same backwards, "
         "ignoring case and non-alphanumeric characters.",
         "assert is_palindrome('A man, a plan, a canal: Panama')\nassert not is_palindrome('abc')\n"),
    Task("word_count", "Write a function word_count(text) that returns a map from each word to how many "
         "times it occurs in text (words split on whitespace).",
         "assert word_count('a b a') == {'a': 2, 'b': 1}\nassert word_count('') == {}\n"),
    Task("merge_sorted", "Write a function merge_sorted(a, b) that merges two sorted lists into one sorted "
         "list without calling a sort function.",
         "assert merge_sorted([1, 4], [2, 3, 5]) == [1, 2, 3, 4, 5]\nassert merge_sorted([], [1]) == [1]\n"),
    Task("stack", "Write a class Stack with push(x), pop() (returning the top item) and is_empty() methods.",
         "s = Stack()\nassert s.is_empty()\ns.push(1)\ns.push(2)\nassert s.pop() == 2\nassert not s.is_empty()\n"),
    Task("matrix_multiply", "Write a function matrix_multiply(a, b) that multiplies two matrices given as "
         "lists of rows.",
         "assert matrix_multiply([[1, 2], [3, 4]], [[5], [6]]) == [[17], [39]]\n"),
    Task("lru_cache", "Write a class LRUCache(capacity) with get(key) (returning -1 when absent) and "
         "put(key, value), evicting the least recently used key when full.",
         "c = LRUCache(2)\nc.put(1, 1)\nc.put(2, 2)\nassert c.get(1) == 1\nc.put(3, 3)\nassert c.get(2) == -1\n"
         "assert c.get(3) == 3\n"),
    Task("bank_account", "Write a small module with a class BankAccount(owner) holding a balance, with "
         "deposit(amount), withdraw(amount) that raises ValueError when funds are short, and a balance attribute.",
         "a = BankAccount('ann')\na.deposit(10)\na.withdraw(4)\nassert a.balance == 6\n"
         "try:\n    a.withdraw(100)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('no ValueError')\n"),
)

TASKS = {task.name: task for task in SUITE}
