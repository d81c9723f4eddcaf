package tasks_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/tasks"
)

// An application enqueues a record and forgets about it: the worker calls
// the vendor under the endpoint's shared rate limit, retries what is
// transient and dead-letters what can never succeed. (Compiled, not run:
// it needs a Redis.)
func Example() {
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:6379"})
	defer client.Close()

	task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{
		Endpoint: "forms",
		Table:    "APP_ID/ENTRY_ID",
		Data:     json.RawMessage(`{"name":"李雷","amount":42}`),
		Key:      "order-42", // the same key is enqueued once
	})
	if err != nil {
		log.Fatal(err) // a *tasks.FieldError names the field
	}
	info, err := client.Enqueue(task)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		fmt.Println("already enqueued")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("enqueued", info.ID, "on queue", info.Queue)
	}
}

func ExampleNewRecordCreateTask() {
	task, _ := tasks.NewRecordCreateTask(tasks.RecordCreate{
		Endpoint: "forms", Table: "APP_ID/ENTRY_ID", Data: json.RawMessage(`{"name":"李雷"}`), Key: "order-42",
	})
	fmt.Println(task.Type(), string(task.Payload()))
	// Output: record:create {"endpoint":"forms","table":"APP_ID/ENTRY_ID","data":{"name":"李雷"},"key":"order-42"}
}

func ExampleNewSMSSendTask() {
	_, err := tasks.NewSMSSendTask(tasks.SMSSend{Endpoint: "sms", Phones: []string{"13800000000", "12345"}, Content: "验证码 430237"})
	var fe *tasks.FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field, "is wrong")
	}
	// Output: phones[1] is wrong
}
