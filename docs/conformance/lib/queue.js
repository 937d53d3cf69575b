'use strict';

// Queue hands received items to one reader that waits with a deadline.
// Once end(item) is called, a reader that finds the queue empty gets that
// item, every time.
class Queue {
  constructor() {
    this.items = [];
    this.waiter = null;
    this.final = null;
  }

  push(item) {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(item);
      return;
    }
    this.items.push(item);
  }

  end(item) {
    if (this.final) {
      return;
    }
    this.final = item;
    if (this.waiter) {
      this.push(item);
    }
  }

  // shift resolves with the next item, or null if none came by deadline
  // (a Date.now() value).
  shift(deadline) {
    if (this.items.length > 0) {
      return Promise.resolve(this.items.shift());
    }
    if (this.final) {
      return Promise.resolve(this.final);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, Math.max(0, deadline - Date.now()));
      this.waiter = (item) => {
        clearTimeout(timer);
        resolve(item);
      };
    });
  }
}

module.exports = {Queue};
